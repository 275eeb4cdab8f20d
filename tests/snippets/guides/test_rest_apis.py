"""Tests of snippets/guides/rest_apis.py, shown on docs/guides/rest-apis.md.

Every stack answers the same requests through WSGI (``Client``) and ASGI
(``AsyncClient``), with the sample project's settings and middleware. The hop
counts are taken with no middleware, so that they are the stack's own.
"""

import json
from datetime import datetime

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.contrib.auth.models import User
from django.http import HttpResponse
from django.test import AsyncClient, Client, override_settings
from django.urls import include, path
from django.utils import timezone

from sampleproject.board.demo import seed
from sampleproject.board.models import Check, Service
from snippets.guides import rest_apis
from snippets.internals.hops import count_hops

pytestmark = [
    # This module's urlpatterns: the snippet's, and a view that does nothing.
    pytest.mark.urls(__name__),
    pytest.mark.django_db(transaction=True),
]

STACKS = ["plain", "drf", "adrf", "ninja"]
NEW_SERVICE = {"name": "Status page", "slug": "status-page", "url": "https://x.test/"}
# What each stack answers to a write it refuses.
REFUSED = {"plain": 403, "drf": 403, "adrf": 403, "ninja": 401}
INVALID = {"plain": 400, "drf": 400, "adrf": 400, "ninja": 422}
FIELDS_PER_ROW = 5  # slug, name, state, status_code, checked_at
HANDLER_HOPS = 2


@pytest.fixture(autouse=True)
def zone_file_read():
    """Read the default time zone's file now, outside the event loop.

    adrf formats timestamps on the loop (DRF's sync to_representation), and the
    first call in a process reads the zone file there: a blocking call the
    guard would report in whichever test came first.
    """
    timezone.get_default_timezone()


def board():
    """The demo services, one last checked up and one down."""
    services = {service.slug: service for service in seed()}
    now = timezone.now()
    Check.objects.create(
        service=services["search"], checked_at=now, ok=True, status_code=200
    )
    Check.objects.create(
        service=services["payments"],
        checked_at=now,
        ok=False,
        status_code=503,
        error=Check.Error.STATUS,
    )
    return services


def expected_rows() -> list[dict]:
    return [rest_apis.status_row(service) for service in rest_apis.tiles_queryset()]


def parsed(rows: list[dict]) -> list[dict]:
    """The rows with each timestamp read back: the stacks format them apart."""
    return [
        dict(
            row,
            checked_at=row["checked_at"]
            and datetime.fromisoformat(row["checked_at"].replace("Z", "+00:00")),
        )
        for row in rows
    ]


def same_instant(rows: list[dict], expected: list[dict]) -> bool:
    # DjangoJSONEncoder keeps milliseconds, DRF and pydantic microseconds.
    def rounded(row):
        at = row["checked_at"]
        return dict(
            row, checked_at=at and at.replace(microsecond=at.microsecond // 1000 * 1000)
        )

    return [rounded(r) for r in rows] == [rounded(r) for r in expected]


def post(client, stack, body):
    data = body if isinstance(body, str) else json.dumps(body)
    return client.post(f"/{stack}/services/", data, content_type="application/json")


@pytest.fixture
def staff_client():
    user = User.objects.create_user("ops", password="pw", is_staff=True)
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_lists_the_board_through_wsgi(stack):
    board()
    response = Client().get(f"/{stack}/services/")
    assert response.status_code == 200
    rows = parsed(response.json())
    assert [row["state"] for row in rows] == ["unknown", "unknown", "down", "up"]
    assert same_instant(rows, expected_rows())


@pytest.mark.asyncio
@pytest.mark.parametrize("stack", STACKS)
async def test_every_stack_lists_the_board_through_asgi(stack):
    await sync_to_async(board)()
    response = await AsyncClient().get(f"/{stack}/services/")
    assert response.status_code == 200
    expected = await sync_to_async(expected_rows)()
    assert same_instant(parsed(response.json()), expected)


@pytest.mark.parametrize("stack", STACKS)
def test_a_logged_in_user_adds_a_service_through_wsgi(stack, staff_client):
    response = post(staff_client, stack, NEW_SERVICE)
    assert response.status_code == 201
    assert response.json() == NEW_SERVICE
    assert Service.objects.filter(**NEW_SERVICE).exists()


@pytest.mark.asyncio
@pytest.mark.parametrize("stack", STACKS)
async def test_a_logged_in_user_adds_a_service_through_asgi(stack):
    user = await User.objects.acreate_user("ops", password="pw", is_staff=True)
    client = AsyncClient()
    await client.aforce_login(user)
    response = await client.post(
        f"/{stack}/services/", NEW_SERVICE, content_type="application/json"
    )
    assert response.status_code == 201
    assert await Service.objects.filter(**NEW_SERVICE).aexists()


@pytest.mark.parametrize("stack", STACKS)
def test_an_anonymous_write_is_refused(stack):
    response = post(Client(), stack, NEW_SERVICE)
    assert response.status_code == REFUSED[stack]
    assert not Service.objects.filter(slug=NEW_SERVICE["slug"]).exists()


@pytest.mark.asyncio
@pytest.mark.parametrize("stack", STACKS)
async def test_an_anonymous_write_is_refused_through_asgi(stack):
    response = await AsyncClient().post(
        f"/{stack}/services/", NEW_SERVICE, content_type="application/json"
    )
    assert response.status_code == REFUSED[stack]


BAD_FIELDS = {
    "taken slug": ({**NEW_SERVICE, "slug": "search"}, "slug", "already exists"),
    "metadata URL": (
        {**NEW_SERVICE, "url": "http://169.254.169.254/latest/"},
        "url",
        "cloud metadata address",
    ),
    "bad slug": ({**NEW_SERVICE, "slug": "status page"}, "slug", "valid"),
}


def field_messages(stack, body: dict, field: str) -> list[str]:
    if stack == "plain":
        return [error["message"] for error in body["errors"][field]]
    if stack == "ninja":
        return body["errors"][field]
    return body[field]


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("case", BAD_FIELDS)
def test_invalid_fields_get_a_clear_4xx_naming_the_field(stack, case, staff_client):
    board()
    data, field, words = BAD_FIELDS[case]
    response = post(staff_client, stack, data)
    assert response.status_code == INVALID[stack]
    assert any(
        words in message for message in field_messages(stack, response.json(), field)
    )
    assert Service.objects.count() == 4


NOT_AN_OBJECT = {
    # body: (status, words) per stack
    "not JSON": {
        "plain": (400, "not JSON"),
        "drf": (400, "JSON parse error"),
        "adrf": (400, "JSON parse error"),
        "ninja": (400, "Cannot parse request body"),
    },
    "[1]": {
        "plain": (400, "JSON object"),
        "drf": (400, "Expected a dictionary"),
        "adrf": (400, "Expected a dictionary"),
        "ninja": (422, "Field required"),
    },
}


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("body", NOT_AN_OBJECT)
def test_a_body_that_is_not_an_object_gets_a_4xx(stack, body, staff_client):
    status, words = NOT_AN_OBJECT[body][stack]
    response = post(staff_client, stack, body)
    assert response.status_code == status
    assert words in response.content.decode()


@pytest.mark.parametrize("stack", STACKS)
def test_another_method_gets_405(stack, staff_client):
    # Logged in: DRF checks permissions first, and refuses an anonymous DELETE.
    assert staff_client.delete(f"/{stack}/services/").status_code == 405


def test_ninja_describes_the_endpoint_in_openapi():
    schema = Client().get("/ninja/openapi.json").json()
    operations = schema["paths"]["/ninja/services/"]
    assert set(operations) == {"get", "post"}
    assert "ServiceIn" in schema["components"]["schemas"]


async def nothing(request):
    return HttpResponse()


urlpatterns = [path("nothing/", nothing), path("", include(rest_apis))]


async def hops_of(path: str) -> dict:
    with override_settings(MIDDLEWARE=[]), count_hops() as hops:
        response = await AsyncClient().get(path)
    assert response.status_code == 200
    return dict(hops)


def test_asgi_handler_makes_two_hops_for_a_view_that_does_nothing():
    # The request_started signal's sync receivers, and response.close(),
    # which sends request_finished: every view under ASGI pays these two.
    hops = async_to_sync(hops_of)("/nothing/")
    assert hops["sync_to_async"] == HANDLER_HOPS


# A list request under ASGI, no middleware: the hops beyond the handler's own.
LIST_HOPS = {
    "plain": 1,  # the query
    "drf": 2,  # the whole sync view, then rendering its Response
    "ninja": 1,  # the query
}


@pytest.mark.asyncio
@pytest.mark.parametrize("stack", ["plain", "drf", "ninja"])
async def test_a_list_request_hops_once_or_twice_under_asgi(stack):
    await sync_to_async(board)()
    hops = await hops_of(f"/{stack}/services/")
    assert hops["sync_to_async"] - HANDLER_HOPS == LIST_HOPS[stack]
    assert hops["async_to_sync"] == 0


@pytest.mark.asyncio
async def test_adrf_hops_once_per_field_of_every_row():
    await sync_to_async(board)()
    four = await hops_of("/adrf/services/")
    await Service.objects.acreate(name="Zeta", slug="zeta", url="https://z.test/")
    five = await hops_of("/adrf/services/")
    # initial() (authentication, permissions, throttles), the query and the
    # Response's rendering, then one sync_to_async per field of every row.
    assert four["sync_to_async"] - HANDLER_HOPS == 3 + 4 * FIELDS_PER_ROW
    assert five["sync_to_async"] - four["sync_to_async"] == FIELDS_PER_ROW


@pytest.mark.parametrize(
    ("stack", "expected"),
    [
        ("plain", {"sync_to_async": 1, "async_to_sync": 1}),
        ("adrf", {"sync_to_async": 2 + 4 * FIELDS_PER_ROW, "async_to_sync": 1}),
        ("ninja", {"sync_to_async": 1, "async_to_sync": 1}),
        ("drf", {"sync_to_async": 0, "async_to_sync": 0}),
    ],
)
def test_under_wsgi_an_async_stack_runs_in_async_to_sync(stack, expected):
    board()
    with override_settings(MIDDLEWARE=[]), count_hops() as hops:
        assert Client().get(f"/{stack}/services/").status_code == 200
    assert {key: hops[key] for key in expected} == expected
