"""Check services over HTTP: concurrently (async) or one after another (sync).

:func:`check_all` is the async way: one shared :class:`httpx.AsyncClient`, every
service checked at once, each with its own timeout, and the whole run bounded by
a deadline. :func:`check_all_sync` is the sync twin: the same checks, one at a
time, with the same deadline. Both return one :class:`Outcome` per service and
never raise for an upstream failure: a timeout, a refused connection, a reset, a
wrong status or a URL the SSRF policy refuses is a failed check, not a crash.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import threading
import time
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import cache

import httpx
from django.conf import settings
from django.utils import timezone

from sampleproject.board.models import Check, Service
from sampleproject.board.urlsafety import (
    GuardedSyncTransport,
    GuardedTransport,
    UnsafeURL,
)

USER_AGENT = "statusboard-checker/1.0"


@dataclass(frozen=True)
class Outcome:
    """The result of checking one service once."""

    service_id: int
    checked_at: datetime
    ok: bool
    status_code: int | None = None
    error: str = ""
    latency_ms: float | None = None

    def as_check(self) -> Check:
        return Check(
            service_id=self.service_id,
            checked_at=self.checked_at,
            ok=self.ok,
            status_code=self.status_code,
            error=self.error,
            latency_ms=self.latency_ms,
        )

    def as_json(self) -> dict:
        return {
            "service": self.service_id,
            "ok": self.ok,
            "status": self.status_code,
            "error": self.error or None,
            "latency_ms": None
            if self.latency_ms is None
            else round(self.latency_ms, 1),
        }


def client_limits() -> httpx.Limits:
    # One client serves every check: cap its connections, so a board with many
    # services cannot open hundreds of sockets at once.
    return httpx.Limits(
        max_connections=settings.BOARD_MAX_CONNECTIONS,
        max_keepalive_connections=settings.BOARD_MAX_CONNECTIONS // 2,
    )


@cache
def ssl_context() -> ssl.SSLContext:
    """The process's TLS settings, built once: loading the CA bundle reads a file.

    Call it from a thread (``asyncio.to_thread``) or before the event loop
    serves requests, never on the loop: it blocks for tens of milliseconds.
    """
    return httpx.create_ssl_context()


def make_async_client(
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    """An SSRF-guarded, connection-limited client that follows no redirects.

    Without a ``transport``, call it off the event loop, or after
    :func:`ssl_context` has run once: httpx builds the TLS settings here.
    """
    if transport is None:
        transport = GuardedTransport(limits=client_limits(), verify=ssl_context())
    return httpx.AsyncClient(
        transport=transport, headers={"User-Agent": USER_AGENT}, follow_redirects=False
    )


# One client per event loop: a client's connections belong to the loop that
# opened them. Weak keys, so a closed loop's entry goes with it.
_shared_clients: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, httpx.AsyncClient
] = weakref.WeakKeyDictionary()


async def open_shared_client() -> httpx.AsyncClient:
    """Start-up: the running loop's shared client, built off the loop."""
    loop = asyncio.get_running_loop()
    client = _shared_clients.get(loop)
    if client is None:
        client = await asyncio.to_thread(make_async_client)
        # Another start-up may have won while the thread ran.
        client = _shared_clients.setdefault(loop, client)
    return client


async def close_shared_client() -> None:
    """Shut-down: close the running loop's shared client, if it has one."""
    client = _shared_clients.pop(asyncio.get_running_loop(), None)
    if client is not None:
        await client.aclose()


def shared_client() -> httpx.AsyncClient | None:
    """The running loop's shared client, or None if none was opened on it."""
    return _shared_clients.get(asyncio.get_running_loop())


def make_sync_client(transport: httpx.BaseTransport | None = None) -> httpx.Client:
    if transport is None:
        transport = GuardedSyncTransport(limits=client_limits(), verify=ssl_context())
    return httpx.Client(
        transport=transport, headers={"User-Agent": USER_AGENT}, follow_redirects=False
    )


def classify(exc: Exception) -> str:
    """The Check.Error for an exception raised while requesting a service."""
    if isinstance(
        exc, UnsafeURL | httpx.InvalidURL
    ):  # first: a refusal is an httpx error too
        return Check.Error.REFUSED
    if isinstance(exc, httpx.TimeoutException | TimeoutError):
        return Check.Error.TIMEOUT
    if isinstance(exc, httpx.ConnectError):
        return Check.Error.CONNECT
    return Check.Error.PROTOCOL


def judge(service: Service, started: float, response=None, exc=None) -> Outcome:
    latency_ms = (time.perf_counter() - started) * 1000
    now = timezone.now()
    if exc is not None:
        return Outcome(
            service.pk, now, ok=False, error=classify(exc), latency_ms=latency_ms
        )
    ok = response.status_code == service.expected_status
    return Outcome(
        service.pk,
        now,
        ok=ok,
        status_code=response.status_code,
        error="" if ok else Check.Error.STATUS,
        latency_ms=latency_ms,
    )


FAILURES = (httpx.HTTPError, httpx.InvalidURL, UnsafeURL)


async def check_service(client: httpx.AsyncClient, service: Service) -> Outcome:
    started = time.perf_counter()
    try:
        # httpx's timeout applies to each phase (connect, each read); the outer
        # one bounds the whole exchange, so a trickling body cannot outlast it.
        async with asyncio.timeout(service.timeout):
            response = await client.get(service.url, timeout=service.timeout)
    except (*FAILURES, TimeoutError) as exc:
        return judge(service, started, exc=exc)
    return judge(service, started, response=response)


class Watchdog:
    """Shuts a check's connection down when its time is up.

    httpx's sync timeouts apply to each read, so a body that trickles in, a
    chunk just inside the timeout each time, would hold a sync check for as
    long as the upstream likes. A blocked ``recv()`` returns at once when its
    socket is shut down, so the watchdog holds the total to ``seconds``.
    """

    def __init__(self, seconds: float) -> None:
        self.fired = False
        self._socket: socket.socket | None = None
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True

    def __enter__(self) -> Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._timer.cancel()

    def trace(self, event: str, info: dict) -> None:
        # httpcore's trace hook: a new connection hands over its stream here.
        if event == "connection.connect_tcp.complete":
            self.watch(info["return_value"])

    def watch(self, stream) -> None:
        sock = None if stream is None else stream.get_extra_info("socket")
        if sock is None:
            return  # not a socket (a test's transport): nothing to shut
        with self._lock:
            self._socket = sock
            fired = self.fired
        if fired:
            self._shut(sock)

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            sock = self._socket
        if sock is not None:
            self._shut(sock)

    @staticmethod
    def _shut(sock: socket.socket) -> None:
        with contextlib.suppress(OSError):  # already closed
            sock.shutdown(socket.SHUT_RDWR)


def check_service_sync(
    client: httpx.Client, service: Service, timeout: float
) -> Outcome:
    started = time.perf_counter()
    try:
        with Watchdog(timeout) as watchdog:
            try:
                with client.stream(
                    "GET",
                    service.url,
                    timeout=timeout,
                    extensions={"trace": watchdog.trace},
                ) as response:
                    # A kept-alive connection made no new one to trace.
                    watchdog.watch(response.extensions.get("network_stream"))
                    response.read()
            except FAILURES as exc:
                if watchdog.fired:
                    raise TimeoutError(f"no answer within {timeout:g} s") from exc
                raise
    except (*FAILURES, TimeoutError) as exc:
        return judge(service, started, exc=exc)
    return judge(service, started, response=response)


def missed_deadline(service: Service) -> Outcome:
    return Outcome(service.pk, timezone.now(), ok=False, error=Check.Error.TIMEOUT)


async def check_all(
    services: Iterable[Service],
    deadline: float,
    client: httpx.AsyncClient | None = None,
) -> list[Outcome]:
    """Check every service at once; whatever is unfinished at ``deadline`` s fails.

    The per-service timeout bounds each request; the deadline bounds the run, so a
    hung upstream or a slow DNS answer cannot hold the response hostage.
    """
    services = list(services)
    if not services:
        return []
    own_client = False
    if client is None:
        client = shared_client()
    if client is None:
        # No start-up opened a client on this loop (a sync server runs each
        # async view on an event loop of its own): one for this run, built
        # off the loop.
        client = await asyncio.to_thread(make_async_client)
        own_client = True
    tasks = [asyncio.create_task(check_service(client, s)) for s in services]
    try:
        done, _ = await asyncio.wait(tasks, timeout=deadline)
        return [
            task.result() if task in done else missed_deadline(service)
            for task, service in zip(tasks, services, strict=True)
        ]
    finally:
        # On every way out, a cancelled request included: no check outlives
        # the run. Cancelling a finished task does nothing.
        for task in tasks:
            task.cancel()
        # Let the cancelled requests close their connections first.
        await asyncio.wait(tasks)
        if own_client:
            await client.aclose()


def check_all_sync(
    services: Iterable[Service], deadline: float, client: httpx.Client | None = None
) -> list[Outcome]:
    """The sync twin: one service after another, within the same deadline."""
    end = time.monotonic() + deadline
    outcomes = []
    own_client = client is None
    client = make_sync_client() if own_client else client
    try:
        for service in services:
            remaining = end - time.monotonic()
            if remaining <= 0:
                outcomes.append(missed_deadline(service))
                continue
            timeout = min(service.timeout, remaining)
            outcomes.append(check_service_sync(client, service, timeout))
    finally:
        if own_client:
            client.close()
    return outcomes
