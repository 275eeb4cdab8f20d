"""/events/: live server-sent events under ASGI, a polling snapshot under WSGI."""

import json
import re

import pytest
import pytest_asyncio
from django.core.asgi import get_asgi_application
from django.test import Client

from sampleproject.board.broadcast import get_broadcaster, reset_broadcaster
from sampleproject.board.models import Service
from sampleproject.board.views.events import CHANNEL
from tests.support.asgi import StreamingGet


@pytest_asyncio.fixture
async def broadcaster():
    reset_broadcaster()
    broadcaster = get_broadcaster()
    yield broadcaster
    await broadcaster.close()
    reset_broadcaster()


@pytest.fixture
def app():
    return get_asgi_application()


def events_in(body: str) -> list[dict]:
    """Parse the SSE events in a body: [{"id": ..., "event": ..., "data": ...}]."""
    parsed = []
    for block in body.split("\n\n"):
        fields = dict(
            line.split(": ", 1)
            for line in block.splitlines()
            if ": " in line and line[0] != ":"
        )
        if "data" in fields:
            fields["data"] = json.loads(fields["data"])
            parsed.append(fields)
    return parsed


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_client_receives_what_is_published_after_it_connects(app, broadcaster):
    async with StreamingGet(app, "/events/") as stream:
        assert stream.status == 200
        assert stream.headers["content-type"] == "text/event-stream"
        assert stream.headers["cache-control"] == "no-cache"
        assert stream.headers["x-board-stream"] == "live"
        await stream.read_until("retry: 3000")
        event = await broadcaster.publish(
            CHANNEL, {"slug": "search", "state": "down"}, "check"
        )
        body = await stream.read_until(f"id: {event.id}\n")
        await stream.read_until("\n\n", limit=1)
    (received,) = events_in(stream.body)
    assert received == {
        "id": str(event.id),
        "event": "check",
        "data": {"slug": "search", "state": "down"},
    }
    assert body.startswith("retry: 3000\n\n")


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_disconnected_client_leaves_no_subscriber(app, broadcaster):
    stream = StreamingGet(app, "/events/")
    async with stream:
        await stream.read_until("retry:")
        assert await broadcaster.subscriber_count(CHANNEL) == 1
    assert stream.task.done()
    assert not stream.task.cancelled()
    assert await broadcaster.subscriber_count(CHANNEL) == 0


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_resume_with_last_event_id(app, broadcaster):
    sent = [await broadcaster.publish(CHANNEL, {"n": n}, "check") for n in range(3)]
    headers = {"Last-Event-ID": str(sent[0].id)}
    async with StreamingGet(app, "/events/", headers) as stream:
        await stream.read_until(f"id: {sent[2].id}\n")
        live = await broadcaster.publish(CHANNEL, {"n": 3}, "check")
        await stream.read_until(f"id: {live.id}\n")
        await stream.read_until('"n":3}\n\n')
    assert [event["data"]["n"] for event in events_in(stream.body)] == [1, 2, 3]


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_quiet_stream_sends_keep_alives(app, broadcaster, settings):
    settings.BOARD_HEARTBEAT_SECONDS = 0.05
    async with StreamingGet(app, "/events/") as stream:
        body = await stream.read_until(": keep-alive\n\n: keep-alive\n\n")
    assert events_in(body) == []


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_an_unknown_last_event_id_asks_the_browser_to_resync(app, broadcaster):
    await broadcaster.publish(CHANNEL, {"n": 0}, "check")
    async with StreamingGet(app, "/events/", {"Last-Event-ID": "999999"}) as stream:
        body = await stream.read_to_end()  # the stream ends after the marker
    (resync,) = events_in(body)
    assert resync["event"] == "resync"


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("bad", ["abc", "-1", "1.5", "9" * 30, "\uff11\uff12"])
async def test_a_malformed_last_event_id_is_a_400(app, broadcaster, bad):
    async with StreamingGet(app, "/events/", {"Last-Event-ID": bad}) as stream:
        body = await stream.read_until("integer")
    assert stream.status == 400
    assert body == "Last-Event-ID must be a non-negative integer."
    assert await broadcaster.subscriber_count(CHANNEL) == 0


@pytest.mark.django_db
def test_wsgi_gets_a_snapshot_and_a_retry_not_an_endless_stream():
    Service.objects.create(name="Search", slug="search", url="https://a.example/")
    response = Client().get("/events/")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/event-stream"
    assert response["X-Board-Stream"] == "polling"
    body = response.content.decode()
    assert re.match(r"retry: 15000\nevent: snapshot\ndata: ", body)
    (snapshot,) = events_in(body)
    (tile,) = snapshot["data"]["tiles"]
    assert (tile["slug"], tile["state"], tile["incident_open"]) == (
        "search",
        "unknown",
        False,
    )


@pytest.mark.django_db
def test_wsgi_rejects_a_malformed_last_event_id_too():
    assert Client().get("/events/", headers={"Last-Event-ID": "x"}).status_code == 400
