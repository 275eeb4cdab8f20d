"""sampleproject.devasgi: the checker runs inside the server's loop for the demo.

It also checks a service added through the form at once, on both the ASGI
(``AsyncClient``) and WSGI (``Client``) paths, and the first result reaches the
live stream; until then the board says "not checked yet".
"""

import asyncio
import contextlib
import dataclasses
import json
import time

import pytest
import uvicorn
from django.db import connections
from django.test import AsyncClient, Client

from sampleproject import devasgi
from sampleproject.board.broadcast import get_broadcaster, reset_broadcaster
from sampleproject.board.models import Check, Service
from sampleproject.board.signals import checks_recorded
from sampleproject.devasgi import WithChecker, application
from sampleproject.upstream.server import loopback_listener, socket_url
from tests.sampleproject.conftest import service_on
from tests.sampleproject.test_upstream import client_for

# The checker re-reads its list every 30 s by default: a first check within
# this many seconds of adding comes from being told, not from the re-read.
AT_ONCE = 5.0


def a_fresh_checker() -> WithChecker:
    """What ``make run`` serves, with a checker of its own."""
    return WithChecker(application.app, grace=2.0)


@pytest.fixture(autouse=True)
def fresh_broadcaster():
    # Stopping the demo's server closes the process-wide broadcaster.
    reset_broadcaster()
    yield
    reset_broadcaster()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_lifespan_starts_and_stops_the_checker(upstream):
    await Service.objects.acreate(
        **{
            field: getattr(service_on(upstream, "payments"), field)
            for field in ("name", "slug", "url", "interval", "timeout")
        }
    )
    inbox: asyncio.Queue = asyncio.Queue()
    sent: list[dict] = []
    started = asyncio.Event()

    async def send(message):
        sent.append(message)
        if message["type"] == "lifespan.startup.complete":
            started.set()

    recorded = asyncio.Event()

    async def on_recorded(sender, **kwargs):
        recorded.set()

    checks_recorded.connect(on_recorded, dispatch_uid="test_devasgi")
    await inbox.put({"type": "lifespan.startup"})
    serving = asyncio.create_task(application({"type": "lifespan"}, inbox.get, send))
    try:
        async with asyncio.timeout(10):
            await started.wait()
            await recorded.wait()  # the embedded checker stored a round
            await inbox.put({"type": "lifespan.shutdown"})
            await serving
    finally:
        checks_recorded.disconnect(dispatch_uid="test_devasgi")
    assert [m["type"] for m in sent] == [
        "lifespan.startup.complete",
        "lifespan.shutdown.complete",
    ]
    assert await Check.objects.filter(ok=True).aexists()


@pytest.mark.asyncio
async def test_http_goes_to_django():
    seen = []

    async def django_app(scope, receive, send):
        seen.append(scope["type"])

    await WithChecker(django_app)({"type": "http"}, None, None)
    assert seen == ["http"]


@contextlib.asynccontextmanager
async def lifespan(app: WithChecker):
    """Run ``app``'s lifespan (the checker) around the block, as uvicorn would."""
    inbox: asyncio.Queue = asyncio.Queue()
    started = asyncio.Event()

    async def send(message):
        if message["type"] == "lifespan.startup.complete":
            started.set()

    await inbox.put({"type": "lifespan.startup"})
    serving = asyncio.create_task(app({"type": "lifespan"}, inbox.get, send))
    try:
        async with asyncio.timeout(10):
            await started.wait()
        yield app
    finally:
        await inbox.put({"type": "lifespan.shutdown"})
        async with asyncio.timeout(10):
            await serving


class InTestServer(devasgi.BoardServer):
    """BoardServer serving in the test's loop; pytest keeps its signals."""

    def capture_signals(self):
        return contextlib.nullcontext()


@dataclasses.dataclass
class Board:
    url: str
    server: InTestServer
    serving: asyncio.Task

    async def stop(self) -> None:
        self.server.should_exit = True  # what uvicorn's Ctrl+C handler does
        async with asyncio.timeout(10):
            await self.serving


@contextlib.asynccontextmanager
async def serving_board():
    """The demo's server, with a fresh checker, in this loop, until stopped."""
    app = a_fresh_checker()
    sock = loopback_listener()
    config = uvicorn.Config(
        app,
        lifespan="on",
        log_config=None,
        timeout_graceful_shutdown=devasgi.GRACEFUL_SHUTDOWN_SECONDS,
    )
    server = InTestServer(config, app)
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    board = Board(socket_url(sock), server, serving)
    try:
        async with asyncio.timeout(10):
            while not server.started:
                assert not serving.done(), "the server stopped before it started"
                await asyncio.sleep(0.01)
        yield board
    finally:
        await board.stop()  # again, if the test stopped it: a no-op
        sock.close()


def form_for(upstream, slug: str) -> dict[str, str]:
    return {
        "name": slug.title(),
        "slug": slug,
        "url": upstream.service_url(slug),
        "expected_status": "200",
        "timeout": "5",
        "interval_seconds": "3600",
    }


async def next_check_of(lines, slug: str) -> dict:
    """The tile in the next ``check`` event for ``slug`` on an SSE stream."""
    kind = None
    async for line in lines:
        if line.startswith("event: "):
            kind = line.removeprefix("event: ")
        elif line.startswith("data: ") and kind == "check":
            tile = json.loads(line.removeprefix("data: "))
            if tile["slug"] == slug:
                return tile
    raise AssertionError("the stream ended")


async def board_detail(client: AsyncClient, slug: str) -> str:
    html = (await client.get("/")).content.decode()
    tile = html.split(f'id="tile-{slug}"', 1)[1].split("</li>", 1)[0]
    return tile.split('class="detail">', 1)[1].split("</span>", 1)[0]


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user("ada", password="not-used")


async def add_asgi(user, data) -> int:
    client = AsyncClient()
    await client.aforce_login(user)
    return (await client.post("/services/add/", data)).status_code


def add_wsgi(user, data) -> int:
    client = Client()
    try:
        client.force_login(user)
        return client.post("/services/add/", data).status_code
    finally:
        connections.close_all()  # this thread's, as a WSGI server's would


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", ["asgi", "wsgi"])
async def test_a_service_added_through_the_form_is_checked_at_once(
    path, upstream, staff
):
    # Slow enough to look at the board while the first check is in flight.
    upstream.behaviours.set("fresh", delay=1.0)
    async with (
        serving_board() as board,
        client_for(board.url, timeout=10) as browser,
        browser.stream("GET", "/events/") as stream,
    ):
        lines = aiter(stream.aiter_lines())
        assert (await anext(lines)).startswith("retry: ")  # subscribed
        added = time.monotonic()
        if path == "asgi":
            status = await add_asgi(staff, form_for(upstream, "fresh"))
        else:  # Django's WSGI handler, in a thread as a WSGI server would
            status = await asyncio.to_thread(
                add_wsgi, staff, form_for(upstream, "fresh")
            )
        assert status == 302
        assert await board_detail(AsyncClient(), "fresh") == "not checked yet"
        async with asyncio.timeout(AT_ONCE):
            tile = await next_check_of(lines, "fresh")
        assert time.monotonic() - added < AT_ONCE
    assert tile["state"] == "up"
    assert await Check.objects.filter(service__slug="fresh", ok=True).acount() == 1


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_after_the_stop_saving_a_service_wakes_nothing(upstream):
    app = a_fresh_checker()
    async with lifespan(app):
        scheduler = app.scheduler
    reloads = []
    scheduler.reload_soon = lambda: reloads.append(1)
    await service_on(upstream, "late").asave()
    await asyncio.sleep(0.1)
    assert reloads == []


@pytest.mark.asyncio
async def test_stop_streams_ends_open_subscriptions():
    app = a_fresh_checker()
    async with get_broadcaster().subscribe("board") as events:
        await app.stop_streams()  # no checker started: only the streams end
        assert [event async for event in events] == []
    assert get_broadcaster().closed


def test_the_command_refuses_a_bad_port(capsys):
    with pytest.raises(SystemExit) as exit_info:
        devasgi.main(["--port", "http"])
    assert exit_info.value.code == 2
    assert "expected a port number, got 'http'" in capsys.readouterr().err


async def read_to_the_end(client, opened: asyncio.Queue) -> str:
    async with client.stream("GET", "/events/") as response:
        chunks = aiter(response.aiter_text())
        await opened.put(await anext(chunks))
        async for _ in chunks:
            pass
    return "clean"


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_board_server_ends_open_streams_before_uvicorn_waits(caplog):
    async with (
        serving_board() as board,
        client_for(board.url, timeout=10) as client,
    ):
        opened: asyncio.Queue = asyncio.Queue()
        streams = [
            asyncio.create_task(read_to_the_end(client, opened)) for _ in range(3)
        ]
        async with asyncio.timeout(10):
            for _ in streams:
                assert (await opened.get()).startswith("retry: ")
        stopping = time.monotonic()
        await board.stop()
        async with asyncio.timeout(10):
            assert await asyncio.gather(*streams) == ["clean"] * 3
        assert time.monotonic() - stopping < devasgi.GRACEFUL_SHUTDOWN_SECONDS
    assert "graceful shutdown exceeded" not in caplog.text
    assert get_broadcaster().closed


def test_main_serves_until_interrupted(monkeypatch):
    served = []

    def run(server):
        served.append(server)
        raise KeyboardInterrupt  # as uvicorn re-raises Ctrl+C once stopped

    monkeypatch.setattr(devasgi.BoardServer, "run", run)
    # uvicorn's console handlers would stay on for the tests that follow.
    monkeypatch.setattr(uvicorn.Config, "configure_logging", lambda config: None)
    assert devasgi.main(["--port", "8123"]) == 0
    [server] = served
    assert (server.config.host, server.config.port) == ("127.0.0.1", 8123)
    assert server.app is application
