"""The dashboard: every enabled service as a tile, live-updated by /events/."""

from asgiref.sync import sync_to_async
from django.shortcuts import render

from sampleproject.board.state import cached_tiles

# A template renders on the event loop when an async view calls it, and
# nothing else runs on the loop meanwhile. A warm render of the board costs
# about 0.1 ms per tile (python -m tests.sampleproject.render_cost): past this
# many tiles it holds the loop over 1 ms, more than a hop to a thread costs.
RENDER_IN_THREAD_ABOVE = 10


async def dashboard(request):
    tiles = await cached_tiles()
    # Resolve the user here, with the async API: the auth context processor's
    # lazy `user` would query the session from inside the sync template engine.
    user = await request.auser()
    context = {"tiles": tiles, "user": user}
    if len(tiles) > RENDER_IN_THREAD_ABOVE:
        return await sync_to_async(render)(request, "board/dashboard.html", context)
    return render(request, "board/dashboard.html", context)
