"""/api/check-all/ and its sync twin: every path, every fault, the deadline."""

import time

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import User
from django.test import AsyncClient, Client

from sampleproject.board.models import Check, Incident, Service
from tests.sampleproject.conftest import service_on

VIEWS = ["/api/check-all/", "/api/check-all-sync/"]


def make_services(upstream, closed_port_url):
    upstream.behaviours.set("ok")
    upstream.behaviours.set("broken", status=500)
    upstream.behaviours.set("slow", delay=2.0)
    upstream.behaviours.set("hangs", mode="hang")
    upstream.behaviours.set("resets", mode="reset")
    upstream.behaviours.set("trickles", mode="slow_body", delay=0.4, chunks=5)
    services = [
        service_on(upstream, "ok"),
        service_on(upstream, "broken"),
        service_on(upstream, "slow", timeout=0.3),
        service_on(upstream, "hangs", timeout=0.5),
        service_on(upstream, "resets"),
        service_on(upstream, "trickles", timeout=0.8),
        service_on(upstream, "refused", url=closed_port_url),
        service_on(upstream, "private", url="http://10.20.30.40/"),
        service_on(upstream, "off", enabled=False),
    ]
    Service.objects.bulk_create(services)


EXPECTED = {
    # slug: (ok, error, status)
    "ok": (True, None, 200),
    "broken": (False, "status", 500),
    "slow": (False, "timeout", None),
    "hangs": (False, "timeout", None),
    "resets": (False, "protocol", None),
    "trickles": (False, "timeout", None),
    "refused": (False, "connect", None),
    "private": (False, "refused", None),
}


def assert_report(report, view):
    results = {result["slug"]: result for result in report["results"]}
    assert "off" not in results  # disabled services are not checked
    got = {slug: (r["ok"], r["error"], r["status"]) for slug, r in results.items()}
    # The trickling body fails both: the service's timeout bounds the whole
    # exchange, not each read.
    expected = dict(EXPECTED)
    assert got == expected
    assert report["checked"] == 8
    assert report["ok"] == sum(ok for ok, _, _ in expected.values())
    opened = {change["state"] for change in report["incidents"]}
    assert opened == {"opened"}
    assert len(report["incidents"]) == 8 - report["ok"]


def assert_stored(report):
    assert Check.objects.count() == 8
    failing = {r["slug"] for r in report["results"] if not r["ok"]}
    open_incidents = set(
        Incident.objects.filter(closed_at__isnull=True).values_list(
            "service__slug", flat=True
        )
    )
    assert open_incidents == failing
    cause = Incident.objects.get(service__slug="broken").cause
    assert cause == "Unexpected status: HTTP 500"


@pytest.mark.django_db
@pytest.mark.parametrize("view", VIEWS)
def test_check_all_through_wsgi(view, upstream, closed_port_url, settings):
    settings.BOARD_CHECK_DEADLINE = 5.0
    make_services(upstream, closed_port_url)
    client = Client()
    client.force_login(User.objects.create_user("ops"))
    response = client.post(view)
    assert response.status_code == 200
    assert_report(response.json(), view)
    assert_stored(response.json())


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("view", VIEWS)
async def test_check_all_through_asgi(view, upstream, closed_port_url, settings):
    settings.BOARD_CHECK_DEADLINE = 5.0
    await sync_to_async(make_services)(upstream, closed_port_url)
    client = AsyncClient()
    await client.aforce_login(await User.objects.acreate(username="ops"))
    response = await client.post(view)
    assert response.status_code == 200
    assert_report(response.json(), view)
    await sync_to_async(assert_stored)(response.json())


@pytest.mark.django_db
@pytest.mark.parametrize("view", VIEWS)
def test_recovery_closes_the_incident(view, upstream):
    upstream.behaviours.set("flaky", status=503)
    Service.objects.bulk_create([service_on(upstream, "flaky")])
    client = Client()
    client.force_login(User.objects.create_user("ops"))
    first = client.post(view).json()
    assert first["incidents"][0]["state"] == "opened"
    again = client.post(view).json()
    assert again["incidents"] == []  # still down: no second incident
    upstream.behaviours.set("flaky", status=200)
    recovered = client.post(view).json()
    assert [change["state"] for change in recovered["incidents"]] == ["closed"]
    incident = Incident.objects.get()
    assert incident.closed_at is not None
    assert Check.objects.filter(ok=False).count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize("view", VIEWS)
def test_the_deadline_holds(view, upstream, settings):
    settings.BOARD_CHECK_DEADLINE = 1.0
    upstream.behaviours.set("stuck", mode="hang")
    Service.objects.bulk_create(
        [
            service_on(
                upstream, f"stuck-{n}", url=upstream.service_url("stuck"), timeout=30
            )
            for n in range(3)
        ]
    )
    client = Client()
    client.force_login(User.objects.create_user("ops"))
    started = time.monotonic()
    report = client.post(view).json()
    elapsed = time.monotonic() - started
    assert elapsed < 2.5
    assert [r["error"] for r in report["results"]] == ["timeout"] * 3


def trickling_services(upstream):
    # 20 chunks 0.3 s apart: every read is well inside the timeout, the whole
    # body takes 6 s.
    upstream.behaviours.set("trickle", mode="slow_body", delay=0.3, chunks=20)
    Service.objects.bulk_create(
        [
            service_on(
                upstream,
                f"trickle-{n}",
                url=upstream.service_url("trickle"),
                timeout=30,
            )
            for n in range(3)
        ]
    )


@pytest.mark.django_db
@pytest.mark.parametrize("view", VIEWS)
def test_the_deadline_holds_against_a_trickling_body_wsgi(view, upstream, settings):
    settings.BOARD_CHECK_DEADLINE = 1.0
    trickling_services(upstream)
    client = Client()
    client.force_login(User.objects.create_user("ops"))
    started = time.monotonic()
    report = client.post(view).json()
    assert time.monotonic() - started < 2.5
    assert [r["error"] for r in report["results"]] == ["timeout"] * 3


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("view", VIEWS)
async def test_the_deadline_holds_against_a_trickling_body_asgi(
    view, upstream, settings
):
    settings.BOARD_CHECK_DEADLINE = 1.0
    await sync_to_async(trickling_services)(upstream)
    client = AsyncClient()
    await client.aforce_login(await User.objects.acreate(username="ops"))
    started = time.monotonic()
    report = (await client.post(view)).json()
    assert time.monotonic() - started < 2.5
    assert [r["error"] for r in report["results"]] == ["timeout"] * 3


@pytest.mark.django_db
def test_async_checks_overlap_and_sync_ones_add_up(upstream):
    upstream.behaviours.set("tenth", delay=0.2)
    Service.objects.bulk_create(
        [
            service_on(upstream, f"s{n}", url=upstream.service_url("tenth"))
            for n in range(8)
        ]
    )
    client = Client()
    client.force_login(User.objects.create_user("ops"))
    concurrent = client.post("/api/check-all/").json()
    one_by_one = client.post("/api/check-all-sync/").json()
    assert concurrent["ok"] == one_by_one["ok"] == 8
    assert concurrent["elapsed_ms"] < 1000  # ~0.2 s: the waits overlap
    assert one_by_one["elapsed_ms"] >= 8 * 200  # ~1.6 s: the waits add up


@pytest.mark.django_db
@pytest.mark.parametrize("view", VIEWS)
def test_anonymous_gets_403_and_nothing_is_checked(view, upstream):
    Service.objects.bulk_create([service_on(upstream, "ok")])
    response = Client().post(view)
    assert response.status_code == 403
    assert response.json() == {"error": "log in to run checks"}
    assert upstream.behaviours.hits("ok") == 0
    assert Check.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize("view", VIEWS)
def test_get_is_not_allowed(view):
    assert Client().get(view).status_code == 405


@pytest.mark.django_db
@pytest.mark.parametrize("view", VIEWS)
def test_no_services(view):
    client = Client()
    client.force_login(User.objects.create_user("ops"))
    report = client.post(view).json()
    assert (report["checked"], report["results"], report["incidents"]) == (0, [], [])
