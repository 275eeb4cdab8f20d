"""Tests of snippets/guides/migrating.py, shown on docs/guides/migrating.md.

Each step of the page is run as the page describes it: the same URLs, through
Django's sync handler (the test ``Client``, as under WSGI) and its async one
(``AsyncClient``, as under ASGI), with the fake upstream standing in for the
services the board checks.
"""

import asyncio
from datetime import timedelta

import pytest
from asgiref.sync import iscoroutinefunction, sync_to_async
from django.contrib import admin
from django.contrib.auth.models import User
from django.core.cache import cache
from django.test import AsyncClient, Client
from django.utils import timezone

from sampleproject.board.models import Check, Incident, Service
from sampleproject.board.views import api
from sampleproject.upstream import UpstreamThread
from snippets.guides.middleware import audit_middleware
from snippets.guides.migrating import (
    MIDDLEWARE_FIXED,
    ONE_VIEW_CONVERTED,
    REST_CONVERTED,
    SYNC_PROJECT,
    SYNC_PROJECT_MIDDLEWARE,
    hops,
    hops_table,
    threads_in_async_to_sync,
)
from snippets.internals.async_middleware import STARTPROJECT_MIDDLEWARE
from tests.sampleproject.conftest import service_on

SYNC_ONLY = "sampleproject.board.middleware.BoardVersionMiddleware"
BOTH_MODES = "snippets.guides.middleware.board_version_middleware"
PAGES = ["/", "/services/payments/", "/services/payments/?page=2", "/api/summary/"]
# Eight upstreams that each take 0.2 s: 1.6 s in turn, 0.2 s at once.
UPSTREAMS, DELAY = 8, 0.2


@pytest.fixture(scope="module")
def upstream_server():
    with UpstreamThread() as server:
        yield server


@pytest.fixture
def upstream(upstream_server):
    """The fake upstream, its behaviours and hit counts back to none after the test."""
    yield upstream_server
    upstream_server.behaviours.reset()


@pytest.fixture(autouse=True)
def _fresh_cache():
    # The dashboard caches its tiles: one step's board must not leak into the next.
    cache.clear()
    yield
    cache.clear()


def make_board():
    """Two services, one with 30 checks (two pages) and an open incident."""
    payments = Service.objects.create(
        name="Payments API", slug="payments", url="https://payments.example/"
    )
    Service.objects.create(name="Search", slug="search", url="https://search.example/")
    now = timezone.now()
    Check.objects.bulk_create(
        Check(
            service=payments,
            ok=n % 3 != 0,
            status_code=200 if n % 3 else 503,
            latency_ms=10.0 + n,
            checked_at=now - timedelta(minutes=n),
        )
        for n in range(30)
    )
    Incident.objects.create(
        service=payments, cause="Unexpected status: HTTP 503", opened_at=now
    )


def waiting_services(upstream, count=UPSTREAMS, delay=DELAY):
    upstream.behaviours.set("slow", delay=delay)
    Service.objects.bulk_create(
        service_on(upstream, f"slow-{n}", url=upstream.service_url("slow"))
        for n in range(count)
    )


def outcomes(report) -> list[tuple]:
    """A check-all report without what differs from run to run (times)."""
    results = sorted(report["results"], key=lambda result: result["slug"])
    return [(r["slug"], r["ok"], r["status"], r["error"]) for r in results]


def wsgi_pages(step) -> dict[str, bytes]:
    with step.active():
        client = Client()
        return {url: client.get(url).content for url in PAGES}


async def asgi_pages(step) -> dict[str, bytes]:
    with step.active():
        client = AsyncClient()
        pages = {}
        for url in PAGES:
            await cache.aclear()
            pages[url] = (await client.get(url)).content
        return pages


# Step 1 and 2: the sync project, under WSGI and under ASGI.


@pytest.mark.django_db
def test_the_sync_project_is_sync():
    sync = (SYNC_PROJECT.dashboard, SYNC_PROJECT.service, SYNC_PROJECT.summary)
    assert not any(iscoroutinefunction(view) for view in sync)
    assert not iscoroutinefunction(SYNC_PROJECT.check_all)
    assert [SYNC_ONLY, *STARTPROJECT_MIDDLEWARE] == SYNC_PROJECT_MIDDLEWARE


@pytest.mark.django_db(transaction=True)
def test_the_sync_project_answers_the_same_under_asgi():
    make_board()
    under_wsgi = wsgi_pages(SYNC_PROJECT)
    under_asgi = asyncio.run(asgi_pages(SYNC_PROJECT))
    assert under_asgi == under_wsgi
    assert b"Page 2 of 2 (30 checks)" in under_wsgi["/services/payments/?page=2"]
    assert b"Unexpected status: HTTP 503" in under_wsgi["/services/payments/"]
    assert b'id="tile-payments"' in under_wsgi["/"]


@pytest.mark.django_db(transaction=True)
def test_the_sync_check_all_adds_up_the_waits_under_wsgi_and_asgi(upstream):
    waiting_services(upstream)
    user = User.objects.create_user("ops")

    async def under_asgi():
        client = AsyncClient()
        await client.aforce_login(user)
        with SYNC_PROJECT.active():
            return (await client.post("/api/check-all/")).json()

    client = Client()
    client.force_login(user)
    with SYNC_PROJECT.active():
        wsgi = client.post("/api/check-all/").json()
    asgi = asyncio.run(under_asgi())
    assert outcomes(wsgi) == outcomes(asgi)
    assert wsgi["ok"] == asgi["ok"] == UPSTREAMS
    # One upstream after another: the waits add up, under either handler.
    for report in (wsgi, asgi):
        assert report["elapsed_ms"] >= UPSTREAMS * DELAY * 1000


# Step 3: one view converted.


@pytest.mark.django_db(transaction=True)
def test_the_converted_check_all_overlaps_the_waits(upstream):
    waiting_services(upstream)
    user = User.objects.create_user("ops")
    client = Client()
    client.force_login(user)
    with SYNC_PROJECT.active():
        before = client.post("/api/check-all/").json()

    async def under_asgi():
        async_client = AsyncClient()
        await async_client.aforce_login(user)
        with ONE_VIEW_CONVERTED.active():
            return (await async_client.post("/api/check-all/")).json()

    after = asyncio.run(under_asgi())
    with ONE_VIEW_CONVERTED.active():
        after_wsgi = client.post("/api/check-all/").json()
    assert outcomes(after) == outcomes(after_wsgi) == outcomes(before)
    # Every upstream at once: about as long as the slowest, under either handler.
    assert before["elapsed_ms"] >= UPSTREAMS * DELAY * 1000
    for report in (after, after_wsgi):
        assert report["elapsed_ms"] < UPSTREAMS * DELAY * 1000 / 2


# Step 4: the middleware.


@pytest.mark.asyncio
async def test_the_audit_finds_the_sync_only_middleware():
    entries = {
        entry.path: entry for entry in await audit_middleware(SYNC_PROJECT_MIDDLEWARE)
    }
    assert (entries[SYNC_ONLY].mode, entries[SYNC_ONLY].hops) == ("sync only", 2)
    fixed = {
        entry.path: entry
        for entry in await audit_middleware(MIDDLEWARE_FIXED.middleware)
    }
    assert (fixed[BOTH_MODES].mode, fixed[BOTH_MODES].hops) == ("both", 0)
    assert MIDDLEWARE_FIXED.middleware == [BOTH_MODES, *STARTPROJECT_MIDDLEWARE]


async def waiting_threads_during_check_all(step, upstream, user) -> int:
    """Threads waiting in async_to_sync while the view waits on its upstreams."""
    client = AsyncClient()
    await client.aforce_login(user)
    with step.active():
        request = asyncio.create_task(client.post("/api/check-all/"))
        # Until the view waits on its upstreams, which count hits in their thread.
        while not upstream.behaviours.hits("slow"):  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        waiting = threads_in_async_to_sync()
        response = await request
    assert response.json()["ok"] == 2
    return waiting


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_sync_only_middleware_holds_a_thread_while_the_view_waits(upstream):
    await sync_to_async(waiting_services)(upstream, count=2, delay=0.5)
    user = await User.objects.acreate(username="ops")
    held = await waiting_threads_during_check_all(ONE_VIEW_CONVERTED, upstream, user)
    upstream.behaviours.reset()
    upstream.behaviours.set("slow", delay=0.5)
    fixed = await waiting_threads_during_check_all(MIDDLEWARE_FIXED, upstream, user)
    assert (held, fixed) == (1, 0)


# Step 5: the rest, and the hops of every step.


@pytest.mark.django_db(transaction=True)
def test_the_converted_pages_answer_the_same():
    make_board()
    before = asyncio.run(asgi_pages(SYNC_PROJECT))
    after = asyncio.run(asgi_pages(REST_CONVERTED))
    assert after == before
    assert wsgi_pages(REST_CONVERTED) == wsgi_pages(SYNC_PROJECT) == before


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_hops_of_each_step():
    await sync_to_async(make_board)()
    table = await hops_table(["/", "/services/payments/", "/api/summary/"])
    rows = [line.rsplit(maxsplit=3) for line in table.splitlines()[1:]]
    assert rows == [
        ["1. sync project", "18", "18", "18"],
        ["3. one view converted", "18", "18", "18"],
        ["4. middleware fixed", "16", "16", "16"],
        ["5. the rest converted", "16", "19", "16"],
    ]


# What not to convert.


def test_the_admin_stays_sync():
    # Django's admin is sync: under ASGI each of its views runs in a thread.
    views = [pattern.callback for pattern in admin.site.get_urls()[:5]]
    assert views
    assert not any(iscoroutinefunction(view) for view in views)


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_an_async_summary_costs_one_hop_more():
    async_summary = REST_CONVERTED.but(summary=api.summary)
    sync_hops = await hops(REST_CONVERTED, "/api/summary/")
    assert await hops(async_summary, "/api/summary/") == sync_hops + 1
    with async_summary.active():
        async_json = (await AsyncClient().get("/api/summary/")).json()
    with REST_CONVERTED.active():
        sync_json = (await AsyncClient().get("/api/summary/")).json()
    assert async_json == sync_json
    assert not iscoroutinefunction(REST_CONVERTED.summary)
