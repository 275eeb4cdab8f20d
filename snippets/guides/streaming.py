"""Streaming responses from async views, and cleaning up when the client leaves.

Shown on docs/guides/streaming.md; tests/snippets/guides/test_streaming.py runs
each view through Django's ASGI handler, as a server would.
"""

import asyncio
import logging

from django.http import StreamingHttpResponse
from django.urls import path

from sampleproject.board.models import Incident

logger = logging.getLogger(__name__)

# The streams open in this process, so a test (or a health page) can see that a
# stream which ended, for whatever reason, left nothing behind.
OPEN_FEEDS: set[object] = set()


def csv_line(incident: Incident) -> str:
    opened = f"{incident.opened_at:%Y-%m-%d %H:%M}"
    return f"{incident.service.slug},{opened},{incident.cause}\n"


# start-async-iterator
async def incident_lines():
    """One CSV line per incident, each sent as soon as the database yields it."""
    yield "service,opened_at,cause\n"
    incidents = Incident.objects.select_related("service").order_by("opened_at")
    async for incident in incidents:
        yield csv_line(incident)


async def export_incidents(request):
    return StreamingHttpResponse(incident_lines(), content_type="text/csv")


# end-async-iterator


# start-sync-iterator
def incident_lines_sync():
    """The same lines from a plain generator: fine under WSGI, buffered under ASGI."""
    yield "service,opened_at,cause\n"
    incidents = Incident.objects.select_related("service").order_by("opened_at")
    for incident in incidents.iterator():
        yield csv_line(incident)


def export_incidents_sync(request):
    return StreamingHttpResponse(incident_lines_sync(), content_type="text/csv")


# end-sync-iterator


# start-disconnect
async def incident_feed(interval: float):
    """Say how many incidents are open, every ``interval`` seconds, until cancelled."""
    feed = object()
    OPEN_FEEDS.add(feed)
    try:
        while True:
            count = await Incident.objects.filter(closed_at__isnull=True).acount()
            yield f"data: {count}\n\n"
            await asyncio.sleep(interval)
    except asyncio.CancelledError:
        # The client went away. Let the error propagate: swallowing it would
        # keep a dead stream running.
        logger.info("incident feed: client went away")
        raise
    finally:
        # Runs on every way out: cancelled, an error, or the loop ending.
        OPEN_FEEDS.discard(feed)


async def open_incidents(request):
    return StreamingHttpResponse(
        incident_feed(interval=1.0),
        content_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


# end-disconnect


urlpatterns = [
    path("incidents.csv", export_incidents),
    path("incidents-sync.csv", export_incidents_sync),
    path("incidents/open/", open_incidents),
]
