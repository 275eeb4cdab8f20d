"""What checking a service once gives: an :class:`Outcome`, never an exception.

A timeout, a refused connection, a reset, a wrong status or a URL the SSRF
policy refuses is a failed check with an error code (:class:`Check.Error`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

import httpx
from django.utils import timezone

from sampleproject.board.models import Check, Service
from sampleproject.board.urlsafety import UnsafeURL


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


FAILURES = (httpx.HTTPError, httpx.InvalidURL, UnsafeURL)


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


def missed_deadline(service: Service) -> Outcome:
    return Outcome(service.pk, timezone.now(), ok=False, error=Check.Error.TIMEOUT)
