"""Many requests at once: correct answers, one incident per outage, no leaks."""

import asyncio
import json
import os
import sys

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import User
from django.core.asgi import get_asgi_application
from django.db import connection
from django.test import AsyncClient
from django.utils.crypto import get_random_string

from sampleproject.board.models import Incident, Service
from tests.sampleproject.conftest import service_on
from tests.support.asgi import StreamingGet
from tests.support.servers import free_port, running_server


def make_services(count=5):
    Service.objects.bulk_create(
        [
            Service(name=f"Service {n}", slug=f"s{n}", url=f"https://s{n}.example/")
            for n in range(count)
        ]
    )


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_200_concurrent_asgi_requests(settings):
    await sync_to_async(make_services)()
    client = AsyncClient()
    paths = ["/", "/api/summary/"] * 100
    responses = await asyncio.gather(*(client.get(path) for path in paths))
    assert [r.status_code for r in responses] == [200] * 200
    for path, response in zip(paths, responses, strict=True):
        if path == "/":
            assert response.content.decode().count('class="tile ') == 5
        else:
            assert response.json() == {"services": 5, "enabled": 5}


async def flip_concurrently(upstream, requests: int):
    upstream.behaviours.set("flappy", status=500)
    await sync_to_async(Service.objects.bulk_create)([service_on(upstream, "flappy")])
    client = AsyncClient()
    await client.aforce_login(await User.objects.acreate(username="ops"))
    csrf = get_random_string(32)
    headers = {
        "Cookie": f"sessionid={client.cookies['sessionid'].value}; csrftoken={csrf}",
        "X-CSRFToken": csrf,
    }
    # Straight to ASGIHandler, not through AsyncClient: the handler gives each
    # request its own thread for sync code, each with its own database
    # connection, so the incident inserts really race.
    # Built off the loop: it runs django.setup(), which reconfigures logging.
    app = await asyncio.to_thread(get_asgi_application)

    async def check_all():
        request = StreamingGet(app, "/api/check-all/", headers, method="POST")
        async with request:
            body = await request.read_to_end(limit=30)
        assert request.status == 200, body
        return json.loads(body)

    down = await asyncio.gather(*(check_all() for _ in range(requests)))
    opened = sum(len(report["incidents"]) for report in down)
    upstream.behaviours.set("flappy", status=200)
    up = await asyncio.gather(*(check_all() for _ in range(requests)))
    closed = sum(len(report["incidents"]) for report in up)
    return opened, closed


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_concurrent_failures_open_exactly_one_incident(upstream):
    opened, closed = await flip_concurrently(upstream, 20)
    assert (opened, closed) == (1, 1)
    incidents = await sync_to_async(list)(Incident.objects.all())
    assert len(incidents) == 1
    assert incidents[0].closed_at is not None


@pytest.mark.needs_service("postgres")
@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_concurrent_failures_on_postgresql(upstream):
    assert connection.vendor == "postgresql"
    opened, closed = await flip_concurrently(upstream, 40)
    assert (opened, closed) == (1, 1)
    assert await Incident.objects.acount() == 1


# Unique per run: only this test's server may count.
SERVER_APP_NAME = f"statusboard-test-server-{os.getpid()}"


def server_connections() -> int:
    """Connections the server process holds (libpq sends PGAPPNAME as its name)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
            [SERVER_APP_NAME],
        )
        return cursor.fetchone()[0]


@pytest.mark.needs_service("postgres")
@pytest.mark.django_db(transaction=True)
def test_connections_do_not_grow_under_a_real_asgi_server():
    make_services()
    database = connection.settings_dict["NAME"]
    url = os.environ["DATABASE_URL"].rsplit("/", 1)[0] + "/" + database
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "sampleproject.asgi:application"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    # On a busy machine a pooled connection can sit idle past uvicorn's 5 s
    # keep-alive and be closed as the client reuses it: not what this measures.
    command += ["--timeout-keep-alive", "120"]
    base = f"http://127.0.0.1:{port}"

    async def burst(count: int):
        limits = httpx.Limits(max_connections=50)
        async with httpx.AsyncClient(
            base_url=base, limits=limits, timeout=30
        ) as client:
            responses = await asyncio.gather(
                *(client.get("/api/summary/") for _ in range(count))
            )
        assert {r.status_code for r in responses} == {200}
        assert responses[-1].json() == {"services": 5, "enabled": 5}

    async def bursts_while_counting() -> list[int]:
        # The peak is what a leak or a missing pool shows: afterwards a server
        # without a pool has closed every connection again.
        counts = []

        def count_once() -> int:
            # A worker thread's connection would outlive the test database.
            try:
                return server_connections()
            finally:
                connection.close()

        async def count_until_done(done: asyncio.Event):
            while not done.is_set():
                counts.append(await asyncio.to_thread(count_once))
                await asyncio.sleep(0.01)

        done = asyncio.Event()
        counter = asyncio.create_task(count_until_done(done))
        try:
            for _ in range(3):
                await burst(300)
        finally:
            done.set()
            await counter
        return counts

    env = {
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "sampleproject.settings.test",
        "PGAPPNAME": SERVER_APP_NAME,
    }
    with running_server(command, base + "/api/summary/", env=env):
        during = asyncio.run(bursts_while_counting())
        after = server_connections()
    pool_max = connection.settings_dict["OPTIONS"]["pool"]["max_size"]
    # 900 requests, 50 at a time: the pool caps what the server ever holds
    # (how many it opens below that depends on timing), and keeps them after.
    assert len(during) >= 3
    assert max(during) <= pool_max
    assert 1 <= after <= pool_max
