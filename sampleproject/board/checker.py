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
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

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


def make_async_client(
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    """The shared client: SSRF-guarded, connection-limited, no redirects."""
    if transport is None:
        transport = GuardedTransport(limits=client_limits())
    return httpx.AsyncClient(
        transport=transport, headers={"User-Agent": USER_AGENT}, follow_redirects=False
    )


def make_sync_client(transport: httpx.BaseTransport | None = None) -> httpx.Client:
    if transport is None:
        transport = GuardedSyncTransport(limits=client_limits())
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


def check_service_sync(
    client: httpx.Client, service: Service, timeout: float
) -> Outcome:
    started = time.perf_counter()
    try:
        response = client.get(service.url, timeout=timeout)
    except FAILURES as exc:
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
    own_client = client is None
    client = make_async_client() if own_client else client
    try:
        tasks = [asyncio.create_task(check_service(client, s)) for s in services]
        done, pending = await asyncio.wait(tasks, timeout=deadline)
        for task in pending:
            task.cancel()
        if pending:
            # Let the cancelled requests close their connections before returning.
            await asyncio.wait(pending)
        return [
            task.result() if task in done else missed_deadline(service)
            for task, service in zip(tasks, services, strict=True)
        ]
    finally:
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
