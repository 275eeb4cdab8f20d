"""Part 1's two views: the same answer from an async view and a sync one.

Each says which thread ran it and whether an event loop was running there.
Part 2 replaces them with the board's own JSON endpoints.
"""

import asyncio
import threading

from django.http import JsonResponse


def where() -> dict:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        loop = False
    else:
        loop = True
    return {"thread": threading.current_thread().name, "event_loop": loop}


async def where_async(request):
    # An awaited sleep hands the event loop to other requests meanwhile.
    await asyncio.sleep(0.1)
    return JsonResponse({"view": "async", **where()})


def where_sync(request):
    return JsonResponse({"view": "sync", **where()})
