"""Live updates as server-sent events (SSE).

Under ASGI the response streams from an async generator for as long as the
browser stays: it subscribes to the broadcaster, forwards each event, sends a
keep-alive comment when the board is quiet, and resumes after a reconnection
from the ``Last-Event-ID`` the browser sends. When the browser goes away, Django
cancels the generator; leaving the ``async with`` block unsubscribes, so nothing
is left behind. The stream never touches the database.

Under WSGI an endless response would hold a worker thread for as long as the
browser stays. There the view answers at once with a snapshot of the board and
a ``retry`` delay, so ``EventSource`` polls instead of streaming.
"""

import asyncio

from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpResponse, HttpResponseBadRequest, StreamingHttpResponse

from sampleproject.board.broadcast import get_broadcaster
from sampleproject.board.pubsub import RESYNC
from sampleproject.board.sse import last_event_id, snapshot

CHANNEL = "board"
STREAM_RETRY_MS = 3000
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


async def stream(last_id: int | None, heartbeat: float):
    async with get_broadcaster().subscribe(CHANNEL, last_id) as events:
        # Sent once subscribed: a client that has read it misses nothing after.
        yield f"retry: {STREAM_RETRY_MS}\n\n"
        pending = aiter(events)
        while True:
            try:
                event = await asyncio.wait_for(anext(pending), heartbeat)
            except TimeoutError:
                yield ": keep-alive\n\n"
                continue
            except StopAsyncIteration:
                return
            yield event.sse()
            if event.kind == RESYNC:
                return  # the browser reloads the page, then reconnects


async def events(request):
    try:
        last_id = last_event_id(request)
    except ValueError:
        return HttpResponseBadRequest("Last-Event-ID must be a non-negative integer.")
    if not isinstance(request, ASGIRequest):
        headers = {**SSE_HEADERS, "X-Board-Stream": "polling"}
        return HttpResponse(
            await snapshot(), content_type="text/event-stream", headers=headers
        )
    return StreamingHttpResponse(
        stream(last_id, settings.BOARD_HEARTBEAT_SECONDS),
        content_type="text/event-stream",
        headers={**SSE_HEADERS, "X-Board-Stream": "live"},
    )
