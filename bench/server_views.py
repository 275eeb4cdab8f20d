"""Views only the server benchmarks request: a 50 ms wait, and a sync stream.

The trivial views come from :mod:`bench.views`; check-all and the async event
stream are the sample project's own.
"""

import asyncio
import time

from django.http import HttpResponse, StreamingHttpResponse

from bench.server_apps import BODY, SLEEP_SECONDS

HEARTBEAT_SECONDS = 15.0
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def sleep_sync(request):
    time.sleep(SLEEP_SECONDS)  # stands for a blocking call: a query, an HTTP request
    return HttpResponse(BODY)


async def sleep_async(request):
    await asyncio.sleep(SLEEP_SECONDS)  # the same wait, handing the loop back
    return HttpResponse(BODY)


def heartbeats():
    yield "retry: 3000\n\n"
    while True:
        time.sleep(HEARTBEAT_SECONDS)
        yield ": keep-alive\n\n"


def events_sync(request):
    """An event stream from a sync generator: it holds a thread while it is open."""
    return StreamingHttpResponse(
        heartbeats(), content_type="text/event-stream", headers=SSE_HEADERS
    )
