"""What one check-all costs besides waiting: connections, lookups, hops.

Counts, not timings, so that a busy machine cannot make them flaky. Each names
a cost that bench/fanout.py times and docs/performance/fanout.md explains.
"""

import asyncio
import sys

import pytest
import pytest_asyncio
from asgiref.sync import sync_to_async
from django.utils import timezone

from sampleproject.board.checker import check_all
from sampleproject.board.httpclient import make_async_client
from sampleproject.board.models import Incident, Service
from sampleproject.board.recording import record
from snippets.internals.hops import count_hops
from tests.sampleproject.conftest import service_on

SERVICES = 12


@pytest.fixture
def services(upstream, settings):
    settings.BOARD_ALLOWED_TARGETS = ("loopback",)
    for number in range(SERVICES):
        upstream.behaviours.set(f"s{number}")
    return [
        service_on(upstream, f"s{number}", pk=number + 1) for number in range(SERVICES)
    ]


@pytest_asyncio.fixture
async def client():
    client = await asyncio.to_thread(make_async_client)
    yield client
    await client.aclose()


def pool_of(client):
    return client._transport._transport._pool


@pytest.mark.asyncio
async def test_a_check_keeps_no_connection_alive(services, client):
    # httpcore 1.0's pool scans its idle connections once per connection on
    # each request and each release: 50 kept-alive sockets made 50 checks 1.6x
    # slower. A check connects afresh, as a new visitor would.
    outcomes = await check_all(services, 10, client)
    assert all(outcome.ok for outcome in outcomes)
    assert pool_of(client).connections == []


@pytest.mark.asyncio
async def test_one_lookup_per_check(services, client, monkeypatch):
    # The request check's addresses are the ones the connection uses: one
    # getaddrinfo (one thread hop) per service, not two.
    loop = asyncio.get_running_loop()
    lookups = []
    original = loop.getaddrinfo

    async def counting(host, port, *args, **kwargs):
        lookups.append(host)
        return await original(host, port, *args, **kwargs)

    monkeypatch.setattr(loop, "getaddrinfo", counting)
    outcomes = await check_all(services, 10, client)
    assert all(outcome.ok for outcome in outcomes)
    assert len(lookups) == SERVICES


@pytest.mark.asyncio
async def test_httpcore_finds_sniffio_imported(services, client, monkeypatch):
    # httpcore runs "import sniffio" each time it sets up a lock or an event
    # (six times a request). Installed, that import is a dictionary look-up;
    # missing, it searches sys.path every time.
    searched = []

    class Watcher:
        @staticmethod
        def find_spec(name, path=None, target=None):
            searched.append(name)

    monkeypatch.setattr(sys, "meta_path", [Watcher(), *sys.meta_path])
    await check_all(services, 10, client)
    assert "sniffio" not in searched


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_recording_hops_twice_for_any_number_of_outcomes(services, client):
    await Service.objects.abulk_create(services)
    outcomes = await check_all(services, 10, client)
    with count_hops() as hops:
        assert await record(outcomes) == []
    # One bulk insert, one query for the open incidents: not one per outcome.
    assert hops["sync_to_async"] == 2


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_recording_still_closes_each_recovered_incident(services, client):
    await Service.objects.abulk_create(services)
    for service in services[:3]:
        await Incident.objects.acreate(
            service_id=service.pk, opened_at=timezone.now(), cause="down"
        )
    outcomes = await check_all(services, 10, client)
    changes = await record(outcomes)
    assert [(c.service_id, c.opened) for c in changes] == [
        (1, False),
        (2, False),
        (3, False),
    ]
    still_open = Incident.objects.filter(closed_at__isnull=True)
    assert await sync_to_async(still_open.count)() == 0
