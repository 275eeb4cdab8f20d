"""The board's middleware on both paths, and what a sync-only one costs under ASGI."""

import asyncio
import logging
import re
import threading
import time

import pytest
from asgiref.sync import markcoroutinefunction
from django.conf import settings
from django.http import StreamingHttpResponse
from django.test import AsyncClient, Client, override_settings

from sampleproject.board.middleware import (
    BOARD_VERSION,
    BoardVersionMiddleware,
    ServerTimingMiddleware,
)

TIMING = "sampleproject.board.middleware.ServerTimingMiddleware"
VERSION = "sampleproject.board.middleware.BoardVersionMiddleware"
HERE = __name__
SERVER_TIMING = re.compile(r"app;dur=(\d+\.\d)")
SLOW_SECONDS = 0.05


def timing_ms(response) -> float:
    match = SERVER_TIMING.fullmatch(response.headers["Server-Timing"])
    assert match, response.headers["Server-Timing"]
    return float(match[1])


def record_thread(request, name: str) -> None:
    # Kept on the request: the test client hands it back as
    # response.wsgi_request / response.asgi_request.
    if not hasattr(request, "threads"):
        request.threads = {}
    request.threads[name] = threading.get_ident()


class RecordingServerTiming(ServerTimingMiddleware):
    def __call__(self, request):
        # In async mode Django calls this on the event loop and awaits the
        # coroutine it returns, so this is the thread the middleware runs in.
        record_thread(request, "timing")
        return super().__call__(request)


class RecordingBoardVersion(BoardVersionMiddleware):
    def __call__(self, request):
        record_thread(request, "version")
        return super().__call__(request)


class RecordingInnermost(ServerTimingMiddleware):
    """Sits just above the view: where the view is called from."""

    def __call__(self, request):
        record_thread(request, "view")
        return super().__call__(request)


# The helpers below subclass ServerTimingMiddleware only for its wiring for
# both modes (self.is_async and the coroutine mark), not for its header.


class SlowInnermost(ServerTimingMiddleware):
    """Makes the layers below the middleware under test take a known time."""

    def __call__(self, request):
        if self.is_async:
            return self.slow_async(request)
        time.sleep(SLOW_SECONDS)
        return self.get_response(request)

    async def slow_async(self, request):
        await asyncio.sleep(SLOW_SECONDS)
        return await self.get_response(request)


class StreamingInnermost(ServerTimingMiddleware):
    """Answers every request with a body that takes a while to produce."""

    def __call__(self, request):
        if self.is_async:
            return self.stream_async()
        return StreamingHttpResponse(self.slow_chunks())

    async def stream_async(self):
        return StreamingHttpResponse(self.slow_achunks())

    @staticmethod
    def slow_chunks():
        yield b"one "
        time.sleep(4 * SLOW_SECONDS)
        yield b"two"

    @staticmethod
    async def slow_achunks():
        yield b"one "
        await asyncio.sleep(4 * SLOW_SECONDS)
        yield b"two"


class AsyncOnly:
    """Cannot run sync: on the WSGI path Django adapts the layer below for it."""

    async_capable = True
    sync_capable = False

    def __init__(self, get_response):
        self.get_response = get_response
        markcoroutinefunction(self)

    async def __call__(self, request):
        return await self.get_response(request)


def middleware(*paths: str) -> list[str]:
    """``paths`` in front of the project's middleware, each once."""
    return [*paths, *(path for path in settings.MIDDLEWARE if path not in paths)]


def assert_headers(response) -> None:
    assert response.headers["X-Board-Version"] == BOARD_VERSION
    assert timing_ms(response) >= 0


# Both headers on both paths, on an async view and on a sync one.


@pytest.mark.django_db
@override_settings(MIDDLEWARE=middleware(TIMING, VERSION))
def test_headers_through_wsgi():
    client = Client()
    summary = client.get("/api/summary/")
    assert summary.json() == {"services": 0, "enabled": 0}
    assert_headers(summary)
    login = client.get("/admin/login/")
    assert login.status_code == 200
    assert_headers(login)


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@override_settings(MIDDLEWARE=middleware(TIMING, VERSION))
async def test_headers_through_asgi():
    client = AsyncClient()
    summary = await client.get("/api/summary/")
    assert summary.json() == {"services": 0, "enabled": 0}
    assert_headers(summary)
    login = await client.get("/admin/login/")
    assert login.status_code == 200
    assert_headers(login)


# Server-Timing measures the layers below it, and stops before a streamed body.


@override_settings(MIDDLEWARE=[TIMING, f"{HERE}.SlowInnermost"])
def test_server_timing_counts_the_layers_below_through_wsgi():
    response = Client().get("/anything/")
    assert timing_ms(response) >= SLOW_SECONDS * 1000


@pytest.mark.asyncio
@override_settings(MIDDLEWARE=[TIMING, f"{HERE}.SlowInnermost"])
async def test_server_timing_counts_the_layers_below_through_asgi():
    response = await AsyncClient().get("/anything/")
    assert timing_ms(response) >= SLOW_SECONDS * 1000


@override_settings(MIDDLEWARE=[TIMING, f"{HERE}.StreamingInnermost"])
def test_server_timing_on_a_streaming_response_through_wsgi():
    response = Client().get("/anything/")
    assert b"".join(response.streaming_content) == b"one two"
    assert timing_ms(response) < 4 * SLOW_SECONDS * 1000


@pytest.mark.asyncio
@override_settings(MIDDLEWARE=[TIMING, f"{HERE}.StreamingInnermost"])
async def test_server_timing_on_a_streaming_response_through_asgi():
    response = await AsyncClient().get("/anything/")
    assert b"".join([chunk async for chunk in response]) == b"one two"
    assert timing_ms(response) < 4 * SLOW_SECONDS * 1000


# Which thread each middleware runs in.

ASYNC_ONLY = [f"{HERE}.RecordingServerTiming", f"{HERE}.RecordingInnermost"]
SYNC_IN_FRONT = [
    f"{HERE}.RecordingServerTiming",
    f"{HERE}.RecordingBoardVersion",
    f"{HERE}.RecordingInnermost",
]


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_async_capable_middleware_stays_on_the_event_loop():
    loop_thread = threading.get_ident()
    with override_settings(MIDDLEWARE=ASYNC_ONLY):
        response = await AsyncClient().get("/api/summary/")
    assert response.status_code == 200
    threads = response.asgi_request.threads
    assert threads == {"timing": loop_thread, "view": loop_thread}


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_sync_only_middleware_hops_to_a_thread_and_back():
    loop_thread = threading.get_ident()
    with override_settings(MIDDLEWARE=SYNC_IN_FRONT):
        response = await AsyncClient().get("/api/summary/")
    assert response.status_code == 200
    threads = response.asgi_request.threads
    # sync_to_async: the sync-only middleware runs in a worker thread...
    assert threads["version"] != loop_thread
    # ...and so does every middleware above it, now run in sync mode...
    assert threads["timing"] == threads["version"]
    # ...while async_to_sync takes the layers below back to the event loop.
    assert threads["view"] == loop_thread


@pytest.mark.django_db
def test_no_hop_on_the_wsgi_path():
    with override_settings(MIDDLEWARE=SYNC_IN_FRONT):
        response = Client().get("/api/summary/")
    assert response.status_code == 200
    caller = threading.get_ident()
    assert response.wsgi_request.threads == {
        "timing": caller,
        "version": caller,
        "view": caller,
    }


# Django says so in its debug log, when DEBUG is on, as it builds the chain.


def adaptations(caplog) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == "django.request" and "adapted" in record.getMessage()
    ]


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("chain", "expected"),
    [
        pytest.param([TIMING], [], id="async-capable only"),
        pytest.param(
            [TIMING, VERSION],
            [f"Asynchronous handler adapted for middleware {VERSION}."],
            id="sync-only in front",
        ),
    ],
)
async def test_django_logs_the_adaptation_under_asgi(caplog, chain, expected):
    caplog.set_level(logging.DEBUG, logger="django.request")
    with override_settings(DEBUG=True, MIDDLEWARE=chain):
        response = await AsyncClient().get("/api/summary/")
    assert response.status_code == 200
    assert adaptations(caplog) == expected


@pytest.mark.django_db
def test_django_logs_the_adaptation_under_wsgi(caplog):
    caplog.set_level(logging.DEBUG, logger="django.request")
    async_only = f"{HERE}.AsyncOnly"
    with override_settings(DEBUG=True, MIDDLEWARE=[async_only, TIMING, VERSION]):
        response = Client().get("/api/summary/")
    assert response.status_code == 200
    # The sync path adapts only for a middleware that cannot run sync.
    assert adaptations(caplog) == [
        f"Synchronous handler adapted for middleware {async_only}."
    ]
