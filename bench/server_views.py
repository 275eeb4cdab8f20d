"""Views only the server benchmarks request: waits, computations, a sync stream.

The trivial views come from :mod:`bench.views`; check-all and the async event
stream are the sample project's own. The waits and computations that take a
number of milliseconds in their URL are the decision guide's
(:mod:`bench.decide`).
"""

import asyncio
import time

from asgiref.sync import sync_to_async
from django.http import HttpResponse, HttpResponseBadRequest, StreamingHttpResponse

from bench.server_apps import BODY, SLEEP_SECONDS

# The longest wait or computation a URL may ask for, in milliseconds.
MAX_MS = 1000

HEARTBEAT_SECONDS = 15.0
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def sleep_sync(request):
    time.sleep(SLEEP_SECONDS)  # stands for a blocking call: a query, an HTTP request
    return HttpResponse(BODY)


async def sleep_async(request):
    await asyncio.sleep(SLEEP_SECONDS)  # the same wait, handing the loop back
    return HttpResponse(BODY)


def too_long(ms: int) -> HttpResponse | None:
    if ms > MAX_MS:
        return HttpResponseBadRequest(
            f"at most {MAX_MS} ms, not {ms}\n", content_type="text/plain"
        )
    return None


def wait_sync(request, ms):
    """Waits ``ms`` milliseconds on I/O the blocking way, holding its thread."""
    if refused := too_long(ms):
        return refused
    time.sleep(ms / 1000)
    return HttpResponse(BODY)


async def wait_async(request, ms):
    """The same wait, handing the event loop back while it lasts."""
    if refused := too_long(ms):
        return refused
    await asyncio.sleep(ms / 1000)
    return HttpResponse(BODY)


def compute(ms: int) -> int:
    """Pure Python work until this thread has used ``ms`` ms of CPU time.

    CPU time, not wall time: while another thread holds the GIL this thread
    does not advance, so every view does the same amount of work.
    """
    deadline = time.thread_time() + ms / 1000
    total = 0
    while time.thread_time() < deadline:
        total += sum(range(200))
    return total


def compute_sync(request, ms):
    if refused := too_long(ms):
        return refused
    compute(ms)
    return HttpResponse(BODY)


async def compute_async(request, ms):
    """The computation in an async view: on the event loop, which it holds."""
    if refused := too_long(ms):
        return refused
    compute(ms)
    return HttpResponse(BODY)


async def compute_async_in_thread(request, ms):
    """The computation handed to a thread, so that the loop stays free."""
    if refused := too_long(ms):
        return refused
    await sync_to_async(compute, thread_sensitive=False)(ms)
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
