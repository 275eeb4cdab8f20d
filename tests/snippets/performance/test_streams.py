"""Tests of snippets/performance/streams.py, shown on docs/performance/streams.md.

Each stream is the sample project's own ``/events/``, sent through the app as a
server would call it (tests/support/asgi.py). Threads are counted in this
process: the requests' sync calls run in its threads.
"""

import asyncio
import contextlib
import threading
import time

import pytest
from django.contrib.auth import get_user_model
from django.core import signals
from django.core.asgi import get_asgi_application
from django.db import connection
from django.http import StreamingHttpResponse
from django.test import AsyncClient, override_settings
from django.urls import path

from sampleproject.board.broadcast import get_broadcaster
from sampleproject.board.views.events import CHANNEL
from snippets.performance.streams import StreamRouter
from tests.sampleproject.test_events import broadcaster  # noqa: F401 (a fixture)
from tests.support.asgi import StreamingGet

STREAMS = 20
EVENTS = "/events/"

# Each test gets a fresh broadcaster, closed afterwards.
pytestmark = [
    pytest.mark.asyncio,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("broadcaster"),
]


@pytest.fixture
def default_app():
    return get_asgi_application()


@pytest.fixture
def recipe_app(default_app):
    return StreamRouter(default_app, {EVENTS})


@contextlib.asynccontextmanager
async def open_streams(app, count):
    streams = [StreamingGet(app, EVENTS) for _ in range(count)]
    try:
        for stream in streams:
            await stream.__aenter__()
            await stream.read_until("retry:")
        yield streams
    finally:
        for stream in streams:
            await stream.disconnect()


async def threads_started_while_opening(app, count, monkeypatch):
    """Threads started while ``count`` streams open, and how many still run."""
    started = []
    original = threading.Thread.start

    def start(thread):
        started.append(thread)
        original(thread)

    monkeypatch.setattr(threading.Thread, "start", start)
    async with open_streams(app, count):
        monkeypatch.setattr(threading.Thread, "start", original)
        alive = sum(thread.is_alive() for thread in started)
    return len(started), alive


async def test_the_default_handler_keeps_a_thread_per_open_stream(
    default_app, monkeypatch
):
    started, alive = await threads_started_while_opening(
        default_app, STREAMS, monkeypatch
    )
    assert started >= STREAMS
    assert alive >= STREAMS  # each still waiting, idle, for its stream to end


async def test_the_router_holds_the_streams_with_no_thread_each(
    recipe_app, monkeypatch
):
    started, _ = await threads_started_while_opening(recipe_app, STREAMS, monkeypatch)
    # At most asgiref's one process-wide thread, if nothing had started it yet.
    assert started <= 1


async def test_a_routed_stream_gets_events_and_leaves_no_subscriber(recipe_app):
    board = get_broadcaster()
    async with open_streams(recipe_app, 2) as (first, second):
        assert first.headers["x-board-stream"] == "live"
        event = await board.publish(CHANNEL, {"slug": "search"}, "check")
        for stream in (first, second):
            await stream.read_until(f"id: {event.id}\n")
        assert await board.subscriber_count(CHANNEL) == 2
    assert first.task.done()
    assert not first.task.cancelled()
    assert await board.subscriber_count(CHANNEL) == 0


async def test_routed_streams_keep_middleware_and_signals(recipe_app):
    sent = []

    def started(**kwargs):
        sent.append("started")

    def finished(**kwargs):
        sent.append("finished")

    signals.request_started.connect(started)
    signals.request_finished.connect(finished)
    try:
        async with open_streams(recipe_app, 1) as (stream,):
            # The project's ServerTimingMiddleware and Django's clickjacking one.
            assert "server-timing" in stream.headers
            assert stream.headers["x-frame-options"] == "DENY"
            assert sent == ["started"]
    finally:
        signals.request_started.disconnect(started)
        signals.request_finished.disconnect(finished)
    assert sent == ["started", "finished"]


async def whoami(request):
    """A routed stream that needs the session: it says who is signed in."""
    user = await request.auser()

    async def body():
        yield f"user: {user.get_username() or 'anonymous'}\n"

    return StreamingHttpResponse(body(), content_type="text/plain")


urlpatterns = [path("whoami/", whoami)]


@override_settings(ROOT_URLCONF=__name__)
async def test_a_routed_stream_reads_the_session_user(default_app):
    ada = await get_user_model().objects.acreate_user("ada-streams")
    client = AsyncClient()
    await client.aforce_login(ada)
    cookie = client.cookies["sessionid"]
    router = StreamRouter(default_app, {"/whoami/"})
    headers = {"cookie": f"sessionid={cookie.value}"}
    async with StreamingGet(router, "/whoami/", headers) as stream:
        assert await stream.read_to_end() == "user: ada-streams\n"
    async with StreamingGet(router, "/whoami/") as stream:
        assert await stream.read_to_end() == "user: anonymous\n"


async def test_other_paths_keep_a_thread_per_request(recipe_app):
    names = []

    def started(**kwargs):
        names.append(threading.current_thread().name)

    signals.request_started.connect(started)
    try:
        for path in ("/api/summary/", "/api/summary/", EVENTS, EVENTS):
            async with StreamingGet(recipe_app, path) as request:
                assert request.status == 200
    finally:
        signals.request_started.disconnect(started)
    summary, summary_again, stream, stream_again = names
    assert summary != summary_again  # each request's own context and thread
    assert stream == stream_again  # asgiref's one process-wide thread


async def test_routed_requests_share_one_thread_and_its_connection(
    recipe_app, default_app
):
    """The trade-off: sync code of every routed request runs in one thread.

    So it shares that thread's database connection, and a slow sync call in
    one stream's start delays every other stream's.
    """
    seen = []

    def slow_receiver(**kwargs):
        seen.append((threading.get_ident(), id(connection)))
        time.sleep(0.2)

    async def start_two(app):
        signals.request_started.connect(slow_receiver)
        try:
            started = time.perf_counter()
            async with contextlib.AsyncExitStack() as stack:
                streams = [StreamingGet(app, EVENTS) for _ in range(2)]
                await asyncio.gather(*(stack.enter_async_context(s) for s in streams))
                return time.perf_counter() - started
        finally:
            signals.request_started.disconnect(slow_receiver)

    routed = await start_two(recipe_app)
    routed_threads = {ident for ident, _ in seen}
    routed_connections = {conn for _, conn in seen}
    seen.clear()
    default = await start_two(default_app)
    assert len(routed_threads) == 1
    assert len(routed_connections) == 1
    assert len({ident for ident, _ in seen}) == 2
    assert routed >= 0.4  # one after the other
    assert default < 0.39  # side by side
