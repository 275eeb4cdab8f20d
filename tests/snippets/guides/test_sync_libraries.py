"""Tests of snippets/guides/sync_libraries.py, shown on docs/guides/sync-libraries.md.

A small threaded HTTP server plays the vendor's status page; it answers
``/components/<name>`` after a delay the test chooses.
"""

import asyncio
import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from asgiref.sync import sync_to_async
from django.db import connection
from django.test import AsyncClient, Client, override_settings

from sampleproject.board.demo import seed
from sampleproject.board.models import Service
from snippets.guides import sync_libraries
from snippets.guides.sync_libraries import StatusPageClient, statuspage

pytestmark = [
    pytest.mark.urls("snippets.guides.sync_libraries"),
    pytest.mark.django_db(transaction=True),
]

SLEEP = 0.1


class StatusPage(ThreadingHTTPServer):
    daemon_threads = True
    delay = 0.0
    status = 200


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        time.sleep(self.server.delay)
        name = self.path.rsplit("/", 1)[-1]
        body = json.dumps({"component": name, "status": "operational"}).encode()
        self.send_response(self.server.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def vendor():
    server = StatusPage(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/api"
    statuspage.cache_clear()
    with override_settings(STATUSPAGE_URL=url):
        yield server
    statuspage.cache_clear()
    server.shutdown()
    server.server_close()


@pytest.fixture
def services():
    return {service.slug: service for service in seed()}


@pytest.mark.asyncio
async def test_the_async_view_gets_the_vendor_status_and_the_incidents(
    vendor, services
):
    response = await AsyncClient().get("/health/search/")
    assert response.status_code == 200
    assert response.json() == {
        "service": "search",
        "vendor": "operational",
        "open_incidents": 0,
    }


def test_the_sync_view_gets_the_vendor_status_under_wsgi(vendor, services):
    response = Client().get("/health-sync/search/")
    assert response.status_code == 200
    assert response.json()["vendor"] == "operational"


@pytest.mark.parametrize("path", ["/health/search/", "/health-sync/search/"])
@pytest.mark.asyncio
async def test_a_vendor_failure_is_a_502_on_both_paths(vendor, services, path):
    vendor.status = 503
    client = AsyncClient() if path == "/health/search/" else None
    if client is None:
        response = await sync_to_async(Client().get)(path)
    else:
        response = await client.get(path)
    assert response.status_code == 502
    assert response.json()["error"].startswith("status page unavailable: 503")


@pytest.mark.parametrize("path", ["/health/nope/", "/health-sync/nope/"])
def test_an_unknown_service_is_a_404(vendor, services, path):
    assert Client().get(path).status_code == 404


@pytest.mark.asyncio
async def test_the_sdk_runs_on_its_own_pool_and_the_orm_on_the_sensitive_thread(
    vendor, services, monkeypatch
):
    threads = {}
    fetch, count = (
        sync_libraries.fetch_component_status,
        sync_libraries.open_incident_count,
    )

    def recording(name, function):
        def wrapper(*args):
            threads[name] = threading.current_thread().name
            return function(*args)

        return wrapper

    monkeypatch.setattr(
        sync_libraries.component_status,
        "func",
        recording("sdk", fetch),
    )
    monkeypatch.setattr(sync_libraries, "open_incident_count", recording("orm", count))
    response = await AsyncClient().get("/health/search/")
    assert response.status_code == 200
    assert threads["sdk"].startswith("statuspage")
    assert not threads["orm"].startswith("statuspage")


@pytest.mark.asyncio
async def test_the_sdk_call_and_the_query_overlap(vendor, services, monkeypatch):
    vendor.delay = SLEEP

    def slow_count(service):
        time.sleep(SLEEP)
        return 0

    monkeypatch.setattr(sync_libraries, "open_incident_count", slow_count)
    started = time.perf_counter()
    response = await AsyncClient().get("/health/search/")
    elapsed = time.perf_counter() - started
    assert response.status_code == 200
    # One after the other would take 2 * SLEEP.
    assert elapsed < 1.8 * SLEEP


def test_each_thread_gets_its_own_session():
    client = StatusPageClient("http://127.0.0.1:9/")
    sessions = []

    def grab():
        sessions.append(client.session)
        sessions.append(client.session)

    threads = [threading.Thread(target=grab) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sessions[0] is sessions[1]
    assert sessions[2] is sessions[3]
    assert sessions[0] is not sessions[2]


def blocking_call():
    time.sleep(SLEEP)
    return threading.get_ident()


@pytest.mark.asyncio
async def test_thread_sensitive_calls_queue_on_one_thread():
    started = time.perf_counter()
    idents = await asyncio.gather(*(sync_to_async(blocking_call)() for _ in range(4)))
    elapsed = time.perf_counter() - started
    assert len(set(idents)) == 1
    assert elapsed >= 4 * SLEEP


@pytest.mark.asyncio
async def test_thread_insensitive_calls_run_side_by_side():
    started = time.perf_counter()
    idents = await asyncio.gather(
        *(sync_to_async(blocking_call, thread_sensitive=False)() for _ in range(4))
    )
    elapsed = time.perf_counter() - started
    assert len(set(idents)) == 4
    assert elapsed < 3 * SLEEP


def connection_in_this_thread():
    Service.objects.exists()
    return connection.connection


@pytest.mark.asyncio
async def test_thread_insensitive_orm_calls_use_another_connection():
    sensitive = await sync_to_async(connection_in_this_thread)()
    again = await sync_to_async(connection_in_this_thread)()
    insensitive = await sync_to_async(
        connection_in_this_thread, thread_sensitive=False
    )()
    assert sensitive is again
    # Not the request's connection: outside its transaction, and not closed
    # when the request finishes.
    assert insensitive is not sensitive


def test_the_default_executor_has_cpu_count_plus_four_workers():
    cpus = getattr(os, "process_cpu_count", os.cpu_count)() or 1
    assert ThreadPoolExecutor()._max_workers == min(32, cpus + 4)


@pytest.mark.asyncio
async def test_one_call_more_than_the_default_executor_waits_for_a_free_thread():
    loop = asyncio.get_running_loop()
    workers = ThreadPoolExecutor()._max_workers
    # The loop's default executor, made the way asyncio makes it.
    loop.set_default_executor(ThreadPoolExecutor(thread_name_prefix="asyncio"))

    async def elapsed(calls):
        started = time.perf_counter()
        await asyncio.gather(
            *(
                sync_to_async(time.sleep, thread_sensitive=False)(SLEEP)
                for _ in range(calls)
            )
        )
        return time.perf_counter() - started

    assert await elapsed(workers) < 1.9 * SLEEP
    assert await elapsed(workers + 1) >= 2 * SLEEP


@pytest.mark.asyncio
async def test_the_sdk_pool_does_not_wait_for_a_full_default_executor(vendor, services):
    loop = asyncio.get_running_loop()
    loop.set_default_executor(ThreadPoolExecutor(max_workers=1))
    hog = asyncio.ensure_future(
        sync_to_async(time.sleep, thread_sensitive=False)(3 * SLEEP)
    )
    await asyncio.sleep(0.01)
    started = time.perf_counter()
    assert await sync_libraries.component_status("search") == "operational"
    assert time.perf_counter() - started < 2 * SLEEP
    await hog


def ticks_while(call):
    """How often a 10 ms ticker ran on the loop while ``call`` was awaited."""

    async def main():
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        task = asyncio.create_task(ticker())
        await asyncio.sleep(0)
        await call()
        task.cancel()
        return ticks

    return asyncio.run(main())


def test_calling_the_sdk_directly_stops_the_event_loop(vendor):
    # A sync test running its own loop: the blocking guard watches async tests.
    vendor.delay = SLEEP

    async def direct():
        return sync_libraries.fetch_component_status("search")

    async def awaited():
        return await sync_libraries.component_status("search")

    assert ticks_while(direct) == 0
    assert ticks_while(awaited) >= 3
