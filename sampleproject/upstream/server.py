"""Running the fake upstream on a loopback port, and where each fault comes from.

Faults, by source:

- **Status codes, delays, hangs, slow bodies**: the ASGI app
  (:mod:`sampleproject.upstream.app`). They work under any ASGI server and
  through ``httpx.ASGITransport``.
- **Connection reset after a request** (mode ``reset``, ``GET /reset``): the
  app closes uvicorn's transport with an RST (see
  :mod:`sampleproject.upstream.resets`). Every server started here runs
  uvicorn, so it works on all of them; through ``httpx.ASGITransport`` the app
  raises :class:`ConnectionResetError` instead, as there is no connection.
- **Connection reset with no HTTP at all**: :func:`reset_server`, a raw
  asyncio TCP server that resets every connection once the request line
  arrives. It does not depend on any server's internals.
- **Connection refused**: the URL of a server that has stopped.

Ways to run it, all on IPv4 loopback only and all stopped even when the code
using them fails:

- :func:`running_upstream`: uvicorn in the current event loop (async tests,
  benchmarks);
- :class:`UpstreamThread`: the same in a thread with its own event loop (sync
  tests, WSGI tests);
- ``python -m sampleproject.upstream --port 8001``: in the foreground.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import uvicorn

from sampleproject.upstream.app import UpstreamApp, create_app
from sampleproject.upstream.behaviours import Behaviours
from sampleproject.upstream.resets import reset_transport

LOOPBACK = "127.0.0.1"
# How long a stopping uvicorn lets requests finish before cancelling them.
# A backstop: requests end with their clients, and running_upstream resets
# the connections of those still in flight when it stops.
SHUTDOWN_GRACE = 1
STARTUP_TIMEOUT = 10.0
BACKLOG = 2048  # uvicorn's default
STOP_TIMEOUT = SHUTDOWN_GRACE + 10.0


def loopback_listener(host: str = LOOPBACK, port: int = 0) -> socket.socket:
    """A TCP socket listening on ``host:port`` (port 0: a free one), loopback only.

    Listening before any server takes it over means a client never sees
    "connection refused" while the server starts: it waits in the backlog.
    """
    try:
        is_loopback = ipaddress.IPv4Address(host).is_loopback
    except ValueError:
        is_loopback = False
    if not is_loopback:
        raise ValueError(
            f"the fake upstream listens on IPv4 loopback only (127.0.0.1); got {host!r}"
        )
    if not 0 <= port <= 65535:
        raise ValueError(f"a port is between 0 and 65535, got {port}")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        # A restart on the same port must not wait out the last run's TIME_WAIT.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(BACKLOG)
    except BaseException:
        sock.close()
        raise
    return sock


def socket_url(sock: socket.socket) -> str:
    host, port = sock.getsockname()
    return f"http://{host}:{port}"


def server_config(app: UpstreamApp, **options: Any) -> uvicorn.Config:
    """uvicorn settings shared by every way of running the fake upstream."""
    settings: dict[str, Any] = {
        # The same protocol everywhere, whether or not httptools is installed.
        "http": "h11",
        # WebSocket upgrades get a plain HTTP answer: the fake speaks HTTP only.
        "ws": "none",
        "lifespan": "on",
        "proxy_headers": False,
        "timeout_graceful_shutdown": SHUTDOWN_GRACE,
        # Leave the process's logging as it is; embedders configure their own.
        "log_config": None,
    }
    return uvicorn.Config(app, **(settings | options))


class EmbeddedServer(uvicorn.Server):
    """uvicorn that leaves signal handling to the program it runs in.

    Serving from the main thread, a plain ``uvicorn.Server`` replaces the SIGINT
    and SIGTERM handlers until it stops: Ctrl+C would stop the fake upstream
    instead of interrupting the tests that use it.
    """

    def capture_signals(self) -> contextlib.nullcontext[None]:  # type: ignore[override]
        return contextlib.nullcontext()


@dataclass(frozen=True)
class Upstream:
    """A running fake upstream: where it listens and how to change what it does."""

    url: str
    app: UpstreamApp

    @property
    def behaviours(self) -> Behaviours:
        return self.app.behaviours

    def service_url(self, name: str) -> str:
        return f"{self.url}/svc/{name}"


async def _until_started(server: uvicorn.Server, serving: asyncio.Task[None]) -> None:
    async with asyncio.timeout(STARTUP_TIMEOUT):
        while not server.started:
            if serving.done():
                serving.result()  # raises what stopped it, if anything did
                raise RuntimeError("uvicorn stopped before it started serving")
            await asyncio.sleep(0.005)


@contextlib.asynccontextmanager
async def running_upstream(
    host: str = LOOPBACK, port: int = 0, *, behaviours: Behaviours | None = None
) -> AsyncIterator[Upstream]:
    """Serve a fresh fake upstream with uvicorn in the running event loop.

    Yields an :class:`Upstream`. Port 0 picks a free port, taken before uvicorn
    starts so that ``url`` is right at once. The server stops on exit, also
    when the body raises; requests still in flight then end with a connection
    reset. Stopping takes about 0.2 s (uvicorn polls for it).
    """
    app = create_app(behaviours)
    sock = loopback_listener(host, port)
    url = socket_url(sock)
    server = EmbeddedServer(server_config(app))
    serving = asyncio.create_task(server.serve(sockets=[sock]), name=f"upstream {url}")
    try:
        await _until_started(server, serving)
        yield Upstream(url=url, app=app)
    finally:
        server.should_exit = True
        app.drop_connections()
        if not server.started:
            serving.cancel()
        await asyncio.wait([serving])
        sock.close()
        if not serving.cancelled():
            serving.result()


class _ResetAfterRequestLine(asyncio.Protocol):
    def __init__(
        self, open_transports: set[asyncio.Transport], all_closed: asyncio.Event
    ) -> None:
        self.open_transports = open_transports
        self.all_closed = all_closed

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.open_transports.add(transport)

    def data_received(self, data: bytes) -> None:
        # Waiting for the request line makes the reset answer a request the
        # client has sent, as a crashing upstream would.
        if b"\n" in data:
            reset_transport(self.transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.open_transports.discard(self.transport)
        if not self.open_transports:
            self.all_closed.set()


@contextlib.asynccontextmanager
async def reset_server(host: str = LOOPBACK, port: int = 0) -> AsyncIterator[str]:
    """Yield the URL of a TCP server that resets every connection it accepts.

    No HTTP is spoken: each connection is reset (RST) as soon as its request
    line arrives. httpx raises ``ReadError`` (or ``RemoteProtocolError``).
    Connections still open on exit are reset too; there are no tasks to leave
    behind, as everything happens in protocol callbacks.
    """
    sock = loopback_listener(host, port)
    url = socket_url(sock)
    open_transports: set[asyncio.Transport] = set()
    all_closed = asyncio.Event()
    loop = asyncio.get_running_loop()
    try:
        server = await loop.create_server(
            lambda: _ResetAfterRequestLine(open_transports, all_closed), sock=sock
        )
    except BaseException:
        sock.close()
        raise
    try:
        yield url
    finally:
        server.close()
        still_open = bool(open_transports)
        all_closed.clear()
        for transport in list(open_transports):
            reset_transport(transport)
        await server.wait_closed()
        if still_open:
            # Before Python 3.12, wait_closed() does not wait for connections:
            # wait until the aborted transports have closed their sockets.
            async with asyncio.timeout(1):
                await all_closed.wait()


class UpstreamThread:
    """:func:`running_upstream` in a background thread with its own event loop.

    For sync code: ``with UpstreamThread() as upstream: httpx.get(upstream.url)``.
    ``url``, ``behaviours``, ``app`` and ``service_url`` work as on
    :class:`Upstream` while it runs. :class:`Behaviours` is thread-safe, so
    tests may change behaviours from their own thread.
    """

    def __init__(
        self,
        host: str = LOOPBACK,
        port: int = 0,
        *,
        behaviours: Behaviours | None = None,
    ) -> None:
        self._host = host
        self._port = port
        self._behaviours = behaviours
        self._ready = threading.Event()
        self._stop_requested = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._upstream: Upstream | None = None
        self._error: Exception | None = None

    @property
    def upstream(self) -> Upstream:
        if self._upstream is None:
            raise RuntimeError("the fake upstream is not running: call start() first")
        return self._upstream

    @property
    def url(self) -> str:
        return self.upstream.url

    @property
    def behaviours(self) -> Behaviours:
        return self.upstream.behaviours

    @property
    def app(self) -> UpstreamApp:
        return self.upstream.app

    def service_url(self, name: str) -> str:
        return self.upstream.service_url(name)

    def start(self) -> Upstream:
        """Start serving; raise what stopped it if it could not start."""
        if self._thread is not None:
            raise RuntimeError("the fake upstream thread is already running")
        self._ready.clear()
        self._stop_requested.clear()
        self._thread = threading.Thread(
            target=self._run, name="fake-upstream", daemon=True
        )
        self._thread.start()
        # No timeout needed: running_upstream gives up by itself after
        # STARTUP_TIMEOUT, and the thread sets _ready however it ends.
        self._ready.wait()
        if self._error is not None:
            self.stop()  # joins the thread, then raises its error
        return self.upstream

    def stop(self) -> None:
        """Stop serving and wait for the thread; re-raise what went wrong in it."""
        self._stop_requested.set()
        loop, task = self._loop, self._task
        if loop is not None and task is not None:
            # The loop has already ended if the server failed to start.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(task.cancel)
        if self._thread is not None:
            self._thread.join(STOP_TIMEOUT)
            if self._thread.is_alive():
                raise RuntimeError(
                    f"the fake upstream did not stop in {STOP_TIMEOUT} s"
                )
        self._thread = self._loop = self._task = self._upstream = None
        error, self._error = self._error, None
        if error is not None:
            raise error

    def __enter__(self) -> UpstreamThread:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _run(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()
        # stop() sets the flag before it looks for the task, and the task is
        # published before the flag is read here: one of the two sees the other.
        try:
            if self._stop_requested.is_set():
                return
            async with running_upstream(
                self._host, self._port, behaviours=self._behaviours
            ) as upstream:
                self._upstream = upstream
                self._ready.set()
                await asyncio.get_running_loop().create_future()  # until stop()
        except asyncio.CancelledError:
            pass  # stop() cancels this task; it is the thread's last word
        except Exception as error:  # handed to the caller's thread by stop()
            self._error = error
        finally:
            self._ready.set()
