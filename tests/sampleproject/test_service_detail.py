"""A service's page, /services/<slug>/, and ``apaginate`` behind it.

The page is an async class-based view: ``aget_object_or_404``, then the checks
paginated with ``apaginate`` (Django 6.0's ``AsyncPaginator``, or the fallback
for 5.2), then the incidents, all evaluated before ``render()``. The last tests
show why that matters: an async view that hands ``render()`` a lazy queryset
fails with ``SynchronousOnlyOperation``.
"""

import re
from datetime import UTC, datetime, timedelta

import django
import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from django.core.exceptions import SynchronousOnlyOperation
from django.shortcuts import render
from django.test import AsyncClient, AsyncRequestFactory, Client
from django.urls import include, path

from sampleproject.board.models import Check, Incident, Service
from sampleproject.board.pagination import HAS_ASYNC_PAGINATOR, PageInfo, apaginate
from sampleproject.board.views.dashboard import dashboard

BASE = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
CHECKS = 60
PER_PAGE = 25
DETAIL = "/services/payments/"
ROW = re.compile(
    r'<tr class="(up|down)"><td>([^<]*)</td><td>([^<]*)</td>'
    r"<td>([^<]*)</td><td>([^<]*)</td></tr>"
)


def at(minute: int) -> datetime:
    return BASE + timedelta(minutes=minute)


def stamp(minute: int) -> str:
    return f"{at(minute):%Y-%m-%d %H:%M:%S}"


def failed(minute: int) -> bool:
    return minute % 3 == 0


def make_board() -> Service:
    """Payments with 60 checks, one a minute (every third failed), two incidents."""
    service = Service.objects.create(
        name="Payments", slug="payments", url="https://pay.example/health"
    )
    Check.objects.bulk_create(
        Check(
            service=service,
            checked_at=at(minute),
            ok=not failed(minute),
            status_code=503 if failed(minute) else 200,
            error=Check.Error.STATUS if failed(minute) else "",
            latency_ms=100 + minute,
        )
        # Stored out of order, so only the ordering can put them in order.
        for minute in sorted(range(CHECKS), key=lambda minute: (minute * 7) % CHECKS)
    )
    Incident.objects.create(
        service=service, opened_at=at(3), closed_at=at(4), cause="Timed out"
    )
    Incident.objects.create(
        service=service, opened_at=at(57), cause="Unexpected status: HTTP 503"
    )
    Service.objects.create(name="Quiet", slug="quiet", url="https://quiet.example/")
    return service


def expected_row(minute: int) -> tuple[str, str, str, str, str]:
    if failed(minute):
        return ("down", stamp(minute), "Unexpected status", "503", f"{100 + minute}")
    return ("up", stamp(minute), "ok", "200", f"{100 + minute}")


def rows(body: str) -> list[tuple[str, ...]]:
    return [
        (state, time, result, status, latency.removesuffix(" ms"))
        for state, time, result, status, latency in ROW.findall(body)
    ]


def newest_first(first: int, last: int) -> list[tuple[str, ...]]:
    """Expected rows for the minutes ``first`` down to ``last``, inclusive."""
    return [expected_row(minute) for minute in range(first, last - 1, -1)]


# (query string, page number shown, rows expected).
PAGES = [
    ("", 1, newest_first(59, 35)),
    ("?page=1", 1, newest_first(59, 35)),
    ("?page=2", 2, newest_first(34, 10)),
    ("?page=3", 3, newest_first(9, 0)),
    ("?page=99", 3, newest_first(9, 0)),  # past the end: the last page
    ("?page=abc", 1, newest_first(59, 35)),  # not a number: the first page
]
PAGE_IDS = ["none", "1", "2", "3", "99", "abc"]


@pytest.fixture(autouse=True)
def fresh_cache():
    cache.clear()
    yield
    cache.clear()


def assert_page(response, number, expected_rows):
    assert response.status_code == 200
    body = response.content.decode()
    assert "<h1>Payments</h1>" in body
    assert "<code>https://pay.example/health</code>" in body
    assert "expects HTTP 200 within 5.0 s" in body
    assert rows(body) == expected_rows
    assert f"Page {number} of 3 ({CHECKS} checks)" in body
    newer = f'<a rel="prev" href="?page={number - 1}">Newer</a>'
    older = f'<a rel="next" href="?page={number + 1}">Older</a>'
    assert (newer in body) == (number > 1)
    assert (older in body) == (number < 3)
    assert_incidents(body)


def assert_incidents(body):
    section = body[body.index("<h2>Incidents</h2>") : body.index("<h2>Checks</h2>")]
    items = re.findall(r"<li>(.*?)</li>", section, re.S)
    assert items == [
        f"Unexpected status: HTTP 503: opened {stamp(57)} <strong>(open)</strong>",
        f"Timed out: opened {stamp(3)}, closed {stamp(4)}",
    ]


# --- The page through both paths -------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(("query", "number", "expected_rows"), PAGES, ids=PAGE_IDS)
def test_pages_wsgi(query, number, expected_rows):
    make_board()
    assert_page(Client().get(DETAIL + query), number, expected_rows)


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_pages_asgi():
    await sync_to_async(make_board)()
    client = AsyncClient()
    for query, number, expected_rows in PAGES:
        assert_page(await client.get(DETAIL + query), number, expected_rows)


@pytest.mark.django_db
def test_page_sizes_add_up_wsgi():
    make_board()
    client = Client()
    pages = [rows(client.get(f"{DETAIL}?page={n}").content.decode()) for n in (1, 2, 3)]
    assert [len(page) for page in pages] == [25, 25, 10]
    seen = [row for page in pages for row in page]
    assert seen == newest_first(CHECKS - 1, 0)  # every check once, newest first


@pytest.mark.django_db
def test_unknown_slug_is_404_wsgi():
    make_board()
    assert Client().get("/services/nope/").status_code == 404


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_unknown_slug_is_404_asgi():
    await sync_to_async(make_board)()
    assert (await AsyncClient().get("/services/nope/")).status_code == 404


@pytest.mark.django_db
def test_service_without_checks_wsgi():
    make_board()
    body = Client().get("/services/quiet/").content.decode()
    assert "No checks yet." in body
    assert "No incidents." in body
    assert "Page 1 of 1 (0 checks)" in body
    assert 'rel="next"' not in body
    assert 'rel="prev"' not in body


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_service_without_checks_asgi():
    await sync_to_async(make_board)()
    response = await AsyncClient().get("/services/quiet/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "No checks yet." in body
    assert "Page 1 of 1 (0 checks)" in body


# --- apaginate, both implementations ---------------------------------------------

NUMBERS = [1, 2, 3, "2", 99, 0, -1, "abc", "", None]
# The page each number gives on 60 items, 25 a page (get_page semantics: not a
# number, the first page; out of range either way, the last page).
EXPECTED_NUMBER = {
    **{1: 1, 2: 2, 3: 3, "2": 2},
    **{99: 3, 0: 3, -1: 3},
    **{"abc": 1, "": 1, None: 1},
}


def checks_queryset():
    return Check.objects.filter(service__slug="payments").order_by("-checked_at")


async def paginations(native: bool, queryset, numbers, per_page=PER_PAGE):
    return {
        number: await apaginate(queryset, number, per_page, native=native)
        for number in numbers
    }


async def all_ids():
    return [check.pk async for check in checks_queryset()]


def assert_expected_pages(pages, ids):
    for number, page in pages.items():
        shown = EXPECTED_NUMBER[number]
        start = (shown - 1) * PER_PAGE
        assert page == PageInfo(
            objects=page.objects, number=shown, num_pages=3, count=CHECKS
        ), number
        assert [check.pk for check in page.objects] == ids[start : start + PER_PAGE]
        assert page.has_previous == (shown > 1)
        assert page.has_next == (shown < 3)


def test_native_is_the_default_from_django_6():
    from_django_6 = django.VERSION >= (6, 0)
    assert from_django_6 == HAS_ASYNC_PAGINATOR


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_apaginate_fallback():
    await sync_to_async(make_board)()
    ids = await all_ids()
    assert len(ids) == CHECKS
    pages = await paginations(False, checks_queryset(), NUMBERS)
    assert_expected_pages(pages, ids)
    assert all(isinstance(page.objects, list) for page in pages.values())
    last = await apaginate(checks_queryset(), 99, 7, native=False)
    assert (last.number, last.num_pages, last.count) == (9, 9, CHECKS)
    assert [check.pk for check in last.objects] == ids[56:]


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_apaginate_fallback_empty():
    await sync_to_async(make_board)()
    empty = Check.objects.filter(service__slug="quiet").order_by("-checked_at")
    for page in (await paginations(False, empty, NUMBERS)).values():
        assert page == PageInfo(objects=[], number=1, num_pages=1, count=0)
        assert not page.has_previous
        assert not page.has_next


@pytest.mark.asyncio
@pytest.mark.needs_django(6, 0)
@pytest.mark.django_db(transaction=True)
async def test_apaginate_native_matches_fallback():
    await sync_to_async(make_board)()
    ids = await all_ids()
    native = await paginations(True, checks_queryset(), NUMBERS)
    fallback = await paginations(False, checks_queryset(), NUMBERS)
    assert native == fallback
    assert_expected_pages(native, ids)
    for per_page in (7, 60, 100):
        native = await paginations(True, checks_queryset(), NUMBERS, per_page)
        fallback = await paginations(False, checks_queryset(), NUMBERS, per_page)
        assert native == fallback, per_page


@pytest.mark.asyncio
@pytest.mark.needs_django(6, 0)
@pytest.mark.django_db(transaction=True)
async def test_apaginate_native_matches_fallback_empty():
    await sync_to_async(make_board)()
    empty = Check.objects.filter(service__slug="quiet").order_by("-checked_at")
    native = await paginations(True, empty, NUMBERS)
    assert native == await paginations(False, empty, NUMBERS)
    for page in native.values():
        assert page == PageInfo(objects=[], number=1, num_pages=1, count=0)


# --- The classic mistake: a lazy queryset handed to render() ----------------------


async def lazy_dashboard(request):
    """The dashboard done wrong: the template, not the view, runs the query.

    ``render()`` is sync; iterating the queryset inside it queries the database
    synchronously from the event loop's thread, which Django refuses.
    """
    context = {"tiles": Service.objects.all(), "user": AnonymousUser()}
    return render(request, "board/dashboard.html", context)


urlpatterns = [path("lazy/", lazy_dashboard), path("", include("sampleproject.urls"))]


async def anonymous():
    return AnonymousUser()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_lazy_queryset_in_render_fails_in_an_async_view():
    await sync_to_async(make_board)()
    request = AsyncRequestFactory().get("/lazy/")
    with pytest.raises(SynchronousOnlyOperation):
        await lazy_dashboard(request)


@pytest.mark.asyncio
@pytest.mark.urls(__name__)
@pytest.mark.django_db(transaction=True)
async def test_lazy_queryset_in_render_fails_through_asgi():
    await sync_to_async(make_board)()
    with pytest.raises(SynchronousOnlyOperation):
        await AsyncClient().get("/lazy/")
    response = await AsyncClient(raise_request_exception=False).get("/lazy/")
    assert response.status_code == 500


@pytest.mark.urls(__name__)
@pytest.mark.django_db
def test_lazy_queryset_in_render_fails_through_wsgi_too():
    # Under WSGI, Django runs an async view in an event loop of its own, so the
    # mistake fails there as well: it is the view's kind, not the server's.
    make_board()
    with pytest.raises(SynchronousOnlyOperation):
        Client().get("/lazy/")


@pytest.mark.asyncio
@pytest.mark.urls(__name__)
@pytest.mark.django_db(transaction=True)
async def test_project_dashboard_evaluates_first():
    await sync_to_async(make_board)()
    request = AsyncRequestFactory().get("/")
    request.auser = anonymous
    response = await dashboard(request)
    assert response.status_code == 200
    assert 'id="tile-payments"' in response.content.decode()
    response = await AsyncClient().get("/")
    assert response.status_code == 200
    assert 'id="tile-quiet"' in response.content.decode()
