"""Testing async views: the views, and the example tests the guide shows.

Shown on docs/guides/testing.md. The ``test_`` functions and the ``TestCase``
here are examples: tests/snippets/guides/test_testing.py imports them, which is
what makes pytest collect and run them, and runs the failing ones inside an inner
pytest to show the error a reader sees.
"""

from __future__ import annotations

import asyncio
import sys
import time

import httpx
import pytest
from django.core.handlers.asgi import ASGIHandler
from django.http import JsonResponse, StreamingHttpResponse
from django.test import AsyncClient, TestCase, override_settings
from django.urls import path

from sampleproject.board.models import Service
from tests.support.asgi import StreamingGet
from tests.support.servers import free_port, manage, running_server

URLS = "snippets.guides.testing"
WAIT = 0.2  # seconds a slow check waits


async def service_count(request):
    return JsonResponse({"services": await Service.objects.acount()})


async def request_kind(request):
    # Which handler made the request: WSGIHandler or an ASGI one.
    return JsonResponse({"request": type(request).__name__})


class InFlight:
    """How many requests a view is serving at once, and the most there were."""

    def __init__(self):
        self.now = self.most = 0

    def __enter__(self):
        self.now += 1
        self.most = max(self.most, self.now)

    def __exit__(self, *exc_info):
        self.now -= 1


in_flight = InFlight()


async def slow_check(request):
    with in_flight:
        await asyncio.sleep(WAIT)  # a remote service taking its time
    return JsonResponse({"ok": True})


def slow_check_sync(request):
    with in_flight:
        time.sleep(WAIT)
    return JsonResponse({"ok": True})


feed_log: list[str] = []


async def check_feed(request):
    async def events():
        try:
            while True:
                yield "data: ok\n\n"
                await asyncio.sleep(0.05)
        except asyncio.CancelledError:
            feed_log.append("client left")  # release what the stream holds here
            raise

    return StreamingHttpResponse(events(), content_type="text/event-stream")


urlpatterns = [
    path("count/", service_count),
    path("kind/", request_kind),
    path("slow/", slow_check),
    path("slow-sync/", slow_check_sync),
    path("feed/", check_feed),
]


# start-async-client
@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@pytest.mark.urls(URLS)
async def test_the_count_includes_a_new_service():
    await Service.objects.acreate(name="Search", slug="search", url="https://s.test/")
    response = await AsyncClient().get("/count/")
    assert response.json() == {"services": 1}


# end-async-client


@override_settings(ROOT_URLCONF=URLS)
class ServiceCountTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        Service.objects.create(name="Search", slug="search", url="https://s.test/")

    async def test_the_count_includes_the_test_data(self):
        response = await self.async_client.get("/count/")
        self.assertEqual(response.json(), {"services": 1})  # noqa: PT009


# start-no-mark
@pytest.mark.asyncio
@pytest.mark.urls(URLS)
async def test_the_count_without_the_mark():
    response = await AsyncClient().get("/count/")
    assert response.json() == {"services": 0}


# end-no-mark


# start-trap
@pytest.fixture
def search_service(db):
    return Service.objects.create(name="Search", slug="search", url="https://s.test/")


@pytest.mark.asyncio
@pytest.mark.django_db  # no transaction=True
@pytest.mark.urls(URLS)
async def test_the_count_includes_the_fixture(search_service):
    response = await AsyncClient().get("/count/")
    assert response.json() == {"services": 1}


# end-trap


# start-hang
@pytest.mark.asyncio
@pytest.mark.urls(URLS)
async def test_the_feed_ends():
    response = await AsyncClient().get("/feed/")
    async with asyncio.timeout(2):  # fail in 2 s instead of waiting forever
        body = b"".join([chunk async for chunk in response.streaming_content])
    assert body.startswith(b"data: ok")


# end-hang


@pytest.mark.asyncio
@pytest.mark.urls(URLS)
async def test_the_feed_sends_events():
    response = await AsyncClient().get("/feed/")
    async with asyncio.timeout(2):
        first = await anext(aiter(response.streaming_content))
    assert first == b"data: ok\n\n"


@pytest.mark.asyncio
@pytest.mark.urls(URLS)
async def test_the_feed_cleans_up_when_the_client_leaves():
    feed_log.clear()
    # ASGIHandler, as a server calls it: AsyncClient never disconnects.
    async with StreamingGet(ASGIHandler(), "/feed/") as stream:
        await stream.read_until("data: ok")
    assert feed_log == ["client left"]


@pytest.mark.asyncio
@pytest.mark.urls(URLS)
async def test_ten_slow_checks_run_at_once():
    in_flight.most = 0
    client = AsyncClient()
    async with asyncio.timeout(5):
        responses = await asyncio.gather(*(client.get("/slow/") for _ in range(10)))
    assert [response.status_code for response in responses] == [200] * 10
    assert in_flight.most == 10


# start-blocking
@pytest.mark.asyncio
@pytest.mark.urls(URLS)
async def test_the_sync_check_answers():
    response = await AsyncClient().get("/slow-sync/")
    time.sleep(WAIT)  # noqa: ASYNC251 (the mistake the guard catches)
    assert response.status_code == 200


# end-blocking


# start-real-server
@pytest.fixture
def board_url(tmp_path):
    """The sample project on uvicorn, with its own SQLite database."""
    env = {"STATUSBOARD_DATA_DIR": str(tmp_path), "DATABASE_URL": "", "REDIS_URL": ""}
    manage(env, "migrate", "--noinput")
    url = f"http://127.0.0.1:{free_port()}"
    command = [sys.executable, "-m", "uvicorn", "sampleproject.asgi:application"]
    command += ["--port", url.rsplit(":", 1)[1], "--log-level", "warning"]
    with running_server(command, f"{url}/api/summary/", env=env):
        yield url


@pytest.mark.asyncio
async def test_ten_summaries_at_once_on_a_real_server(board_url):
    # Plain HTTP: verify=False loads no CA bundle, a blocking file read.
    client = httpx.AsyncClient(base_url=board_url, trust_env=False, verify=False)
    async with client:
        async with asyncio.timeout(10):
            responses = await asyncio.gather(
                *(client.get("/api/summary/") for _ in range(10))
            )
    assert {response.status_code for response in responses} == {200}


# end-real-server
