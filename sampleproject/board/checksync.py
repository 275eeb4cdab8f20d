"""The checker's sync twin: the same checks, one after another, one deadline.

This is what you would write in a WSGI project. httpx's sync timeout applies to
each read, so a :class:`Watchdog` holds each check to its total time.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterable

import httpx

from sampleproject.board.httpclient import make_sync_client
from sampleproject.board.models import Service
from sampleproject.board.outcome import FAILURES, Outcome, judge, missed_deadline


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
