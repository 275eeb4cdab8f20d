"""Tests of snippets/guides/orm.py, shown on docs/guides/orm.md.

They run on SQLite and, with ``DATABASE_URL`` set, on PostgreSQL.
"""

import asyncio
import threading
import time

import pytest
from asgiref.sync import SyncToAsync
from django.core.exceptions import SynchronousOnlyOperation
from django.db.models.query import QuerySet
from django.test import AsyncClient, AsyncRequestFactory, Client
from django.utils import timezone

from sampleproject.board.demo import seed
from sampleproject.board.models import Check, Incident, Service
from snippets.guides.orm import (
    counts_gathered,
    counts_in_turn,
    counts_one_hop,
    latest_check,
    latest_check_lazy,
    service_status,
    service_status_one_hop,
)
from snippets.internals.hops import count_hops

URLS = "snippets.guides.orm"

pytestmark = [pytest.mark.urls(URLS), pytest.mark.django_db(transaction=True)]


@pytest.fixture
def services():
    services = {service.slug: service for service in seed()}
    now = timezone.now()
    for service in services.values():
        Check.objects.bulk_create(
            Check(service=service, checked_at=now, status_code=200, ok=True)
            for _ in range(3)
        )
    Incident.objects.create(service=services["search"], opened_at=now, cause="timeouts")
    return services


EXPECTED = {
    "service": "Search",
    "recent": [True, True, True],
    "incident": "timeouts",
    "open_incidents": 1,
}


@pytest.mark.asyncio
async def test_the_async_view_answers_under_asgi(services):
    response = await AsyncClient().get("/status/search/")
    assert response.status_code == 200
    assert response.json() == EXPECTED


@pytest.mark.asyncio
async def test_the_one_hop_view_answers_the_same(services):
    response = await AsyncClient().get("/status-one-hop/search/")
    assert response.json() == EXPECTED


def test_the_sync_view_answers_the_same_under_wsgi(services):
    response = Client().get("/status-sync/search/")
    assert response.json() == EXPECTED


@pytest.mark.asyncio
@pytest.mark.parametrize("path", ["/status/", "/status-one-hop/"])
async def test_an_unknown_service_is_a_404_under_asgi(services, path):
    response = await AsyncClient().get(f"{path}nope/")
    assert response.status_code == 404


def test_an_unknown_service_is_a_404_under_wsgi(services):
    assert Client().get("/status-sync/nope/").status_code == 404


@pytest.mark.asyncio
async def test_the_typical_view_makes_one_hop_per_query(services):
    request = AsyncRequestFactory().get("/status/search/")
    with count_hops() as hops:
        await service_status(request, "search")
    # Four queries, four thread-sensitive hops, plus none for the view itself.
    assert hops["sync_to_async"] == 4
    assert hops["thread_sensitive"] == 4


@pytest.mark.asyncio
async def test_the_one_hop_view_makes_one_hop(services):
    request = AsyncRequestFactory().get("/status-one-hop/search/")
    with count_hops() as hops:
        await service_status_one_hop(request, "search")
    assert hops["sync_to_async"] == 1


@pytest.mark.asyncio
async def test_a_queryset_method_is_no_hop_and_runs_no_query(services):
    with count_hops() as hops:
        queryset = Check.objects.filter(ok=True).select_related("service")[:5]
    assert isinstance(queryset, QuerySet)
    assert queryset._result_cache is None
    assert hops["sync_to_async"] == 0


@pytest.mark.asyncio
async def test_an_a_method_runs_the_sync_method_in_a_worker_thread(
    services, monkeypatch
):
    threads = []
    original = QuerySet.count

    def count(self):
        threads.append(threading.get_ident())
        return original(self)

    monkeypatch.setattr(QuerySet, "count", count)
    with count_hops() as hops:
        assert await Check.objects.acount() == 12
    # acount() is count() behind one thread-sensitive sync_to_async call.
    assert threads
    assert threads[0] != threading.get_ident()
    assert hops["sync_to_async"] == hops["thread_sensitive"] == 1


@pytest.mark.asyncio
async def test_aiterator_makes_one_hop_per_chunk(services):
    with count_hops() as hops:
        checks = [check async for check in Check.objects.aiterator(chunk_size=5)]
    assert len(checks) == 12
    # 12 rows in chunks of 5: three fetches, of 5, 5 and 2 rows.
    assert hops["sync_to_async"] == 3


@pytest.mark.asyncio
async def test_lazy_related_access_raises_on_the_loop(services):
    with pytest.raises(SynchronousOnlyOperation):
        await latest_check_lazy()


@pytest.mark.asyncio
async def test_select_related_loads_the_service_in_the_same_hop(services):
    with count_hops() as hops:
        assert await latest_check() in {service.name for service in services.values()}
    assert hops["sync_to_async"] == 1


@pytest.mark.asyncio
async def test_gather_gives_the_same_counts_as_awaiting_in_turn(services):
    slugs = list(services)
    assert await counts_gathered(slugs) == await counts_in_turn(slugs)
    assert await counts_one_hop(slugs) == await counts_in_turn(slugs)


@pytest.mark.asyncio
async def test_gathered_queries_run_one_at_a_time_in_one_thread(services, monkeypatch):
    threads, running, most = set(), [0], [0]
    original = QuerySet.count

    def slow_count(self):
        threads.add(threading.get_ident())
        running[0] += 1
        most[0] = max(most[0], running[0])
        time.sleep(0.02)
        running[0] -= 1
        return original(self)

    monkeypatch.setattr(QuerySet, "count", slow_count)
    slugs = list(services)
    started = time.perf_counter()
    await counts_gathered(slugs)
    elapsed = time.perf_counter() - started
    # Thread-sensitive hops share one thread: never two queries at once, so
    # the gather takes as long as the queries in turn.
    assert len(threads) == 1
    assert most[0] == 1
    assert elapsed >= 0.02 * len(slugs)


@pytest.mark.asyncio
async def test_gathered_queries_overlap_only_with_thread_sensitive_off(
    services, monkeypatch
):
    # The control: the same gather, with the hops sent to separate threads,
    # does overlap, so the test above shows the thread-sensitive queue.
    running, most = [0], [0]

    def slow_count(self):
        running[0] += 1
        most[0] = max(most[0], running[0])
        time.sleep(0.02)
        running[0] -= 1
        return 0

    monkeypatch.setattr(QuerySet, "count", slow_count)
    queries = [
        SyncToAsync(Check.objects.count, thread_sensitive=False)() for _ in range(4)
    ]
    await asyncio.gather(*queries)
    assert most[0] > 1


@pytest.mark.asyncio
async def test_aiterator_with_prefetch_related_adds_hops_per_chunk(services):
    plain = Service.objects.order_by("slug")
    with count_hops() as without:
        [service async for service in plain.aiterator(chunk_size=2)]
    with count_hops() as with_prefetch:
        prefetched = plain.prefetch_related("checks").aiterator(chunk_size=2)
        loaded = [service async for service in prefetched]
    # Each chunk of services is followed by its own query for their checks.
    assert with_prefetch["sync_to_async"] == without["sync_to_async"] + 2
    assert len(loaded[0].checks.all()) == 3


@pytest.mark.asyncio
async def test_async_for_prefetches_inside_its_one_hop(services):
    with count_hops() as hops:
        loaded = [s async for s in Service.objects.prefetch_related("checks")]
    assert hops["sync_to_async"] == 1
    assert [len(service.checks.all()) for service in loaded] == [3, 3, 3, 3]
