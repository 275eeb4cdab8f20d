"""The dashboard: every enabled service as a tile."""

from django.shortcuts import render

from sampleproject.board.state import load_tiles


async def dashboard(request):
    tiles = await load_tiles()
    # Resolve the user here, with the async API: the auth context processor's
    # lazy `user` would query the session from inside the sync template engine.
    user = await request.auser()
    return render(request, "board/dashboard.html", {"tiles": tiles, "user": user})
