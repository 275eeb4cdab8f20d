"""Tests of snippets/guides/streaming.py.

Shown on docs/guides/streaming.md. Each view runs through Django's ASGI handler
as a server would call it (tests/support/asgi.py), so what is sent, and when,
is what a browser would get.
"""

import warnings

import pytest
from asgiref.sync import sync_to_async
from django.core import signals
from django.core.handlers.asgi import ASGIHandler
from django.db.models.signals import post_init
from django.test import Client
from django.utils import timezone

from sampleproject.board.demo import seed
from sampleproject.board.models import Incident, Service
from snippets.guides import streaming
from tests.support.asgi import StreamingGet

URLS = "snippets.guides.streaming"
SYNC_WARNING = (
    "StreamingHttpResponse must consume synchronous iterators in order to serve "
    "them asynchronously. Use an asynchronous iterator instead."
)


def open_incidents(count: int) -> None:
    seed()
    services = list(Service.objects.order_by("slug")[:count])
    now = timezone.now()
    for service in services:
        Incident.objects.create(service=service, opened_at=now, cause="timeout")


class Timeline(StreamingGet):
    """A request that logs, in order, each incident loaded and each message sent."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.log: list[str] = []

    def loaded(self, sender, **kwargs):
        self.log.append("loaded")

    async def send(self, message):
        if message["type"] == "http.response.body" and message.get("body"):
            self.log.append("sent")
        await super().send(message)


async def timeline_of(path: str) -> tuple[list[str], str]:
    response = Timeline(ASGIHandler(), path)
    post_init.connect(response.loaded, sender=Incident, weak=False)
    try:
        async with response:
            body = await response.read_to_end()
    finally:
        post_init.disconnect(response.loaded, sender=Incident)
    return response.log, body


@pytest.mark.asyncio
@pytest.mark.urls(URLS)
@pytest.mark.django_db(transaction=True)
async def test_an_async_iterator_sends_before_the_query_runs():
    await sync_to_async(open_incidents)(3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no adapter, so no warning
        log, body = await timeline_of("/incidents.csv")
    # The header line is on its way before any incident is loaded.
    assert log[0] == "sent"
    assert log.count("loaded") == 3
    assert body.count("\n") == 4
    assert body.startswith("service,opened_at,cause\n")


@pytest.mark.asyncio
@pytest.mark.urls(URLS)
@pytest.mark.django_db(transaction=True)
async def test_a_sync_iterator_is_consumed_whole_under_asgi():
    await sync_to_async(open_incidents)(3)
    with pytest.warns(Warning, match="must consume synchronous") as caught:
        log, body = await timeline_of("/incidents-sync.csv")
    assert [str(w.message) for w in caught] == [SYNC_WARNING]
    # Every incident is loaded before the first byte leaves.
    assert log == ["loaded"] * 3 + ["sent"] * 4
    assert body.startswith("service,opened_at,cause\n")


@pytest.mark.urls(URLS)
@pytest.mark.django_db(transaction=True)
def test_both_exports_answer_under_wsgi():
    open_incidents(2)
    client = Client()
    sync_body = b"".join(client.get("/incidents-sync.csv"))
    # Under WSGI it is the async iterator that gets adapted, and consumed whole.
    with pytest.warns(Warning, match="must consume asynchronous iterators"):
        async_body = b"".join(client.get("/incidents.csv"))
    assert sync_body == async_body
    assert sync_body.count(b"\n") == 3


@pytest.mark.asyncio
@pytest.mark.urls(URLS)
@pytest.mark.django_db(transaction=True)
async def test_a_disconnect_cancels_the_feed_and_cleans_up(caplog):
    finished = []

    def on_finished(**kwargs):
        finished.append(True)

    caplog.set_level("INFO", logger="snippets.guides.streaming")
    signals.request_finished.connect(on_finished, weak=False)
    try:
        async with StreamingGet(ASGIHandler(), "/incidents/open/") as response:
            assert response.headers["x-accel-buffering"] == "no"
            await response.read_until("data: 0")
            assert len(streaming.OPEN_FEEDS) == 1
            await response.disconnect()
            # The handler has returned: the generator was cancelled and closed.
            assert response.task.done()
            assert not response.task.cancelled()
    finally:
        signals.request_finished.disconnect(on_finished)
    assert not streaming.OPEN_FEEDS
    assert finished == [True]
    # The generator itself saw CancelledError, at the await it was waiting on.
    assert "incident feed: client went away" in caplog.messages
