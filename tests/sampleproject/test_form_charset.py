"""The board answers 400 to a form body in a charset other than UTF-8, on both paths.

Plain Django answers 500 (tests/internals/test_form_charset.py shows why);
``FormCharsetMiddleware`` answers before ``CsrfViewMiddleware`` reads the body.
The clients enforce CSRF checks and send the CSRF cookie, as a browser does:
the test clients' default of skipping the check would hide the failure.
"""

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import AsyncClient, Client, override_settings

from sampleproject.board.formcharset import FormCharsetMiddleware
from sampleproject.board.models import Check, Service
from snippets.internals.hops import count_hops

FIX = "sampleproject.board.formcharset.FormCharsetMiddleware"
SECRET = "b" * 32  # the CSRF cookie; an unmasked secret is also a valid token
FORM = "application/x-www-form-urlencoded"
REFUSED_CHARSETS = ["latin-1", "utf8", "utf-16"]
ADD = "/services/add/"
CHECK_ALL = "/api/check-all/"
ADD_BODY = (
    "name=Payments&slug=payments&url=http%3A%2F%2F127.0.0.1%3A8001%2Fsvc%2Fpayments"
    f"&expected_status=200&timeout=2.5&interval_seconds=30&csrfmiddlewaretoken={SECRET}"
).encode()
REFUSAL = (
    b"HTTP requests with the 'application/x-www-form-urlencoded' content type"
    b" must be UTF-8 encoded.\n"
)


@pytest.fixture(autouse=True)
def loopback_allowed(settings):
    settings.BOARD_ALLOWED_TARGETS = ("loopback",)


def make_user():
    return get_user_model().objects.create_user("ada", password="pw-not-checked")


def content_type(charset: str) -> str:
    return f"{FORM}; charset={charset}"


def rows():
    return Service.objects.count(), Check.objects.count()


def assert_refused(response):
    assert response.status_code == 400
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response.content == REFUSAL


def browser_client() -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_user())
    client.cookies["csrftoken"] = SECRET
    return client


async def async_browser_client(user=None) -> AsyncClient:
    client = AsyncClient(enforce_csrf_checks=True)
    await client.aforce_login(user or await sync_to_async(make_user)())
    client.cookies["csrftoken"] = SECRET
    return client


# --- WSGI: Client ---------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("path", [ADD, CHECK_ALL])
@pytest.mark.parametrize("charset", REFUSED_CHARSETS)
def test_refused_charset_is_a_400_wsgi(path, charset):
    response = browser_client().post(path, ADD_BODY, content_type=content_type(charset))
    assert_refused(response)
    assert rows() == (0, 0)


@pytest.mark.django_db
def test_utf8_declared_is_read_wsgi():
    # The same body and cookie with charset=utf-8: the 400s above are the charset's.
    client = browser_client()
    response = client.post(ADD, ADD_BODY, content_type=content_type("utf-8"))
    assert response.status_code == 302
    body = f"csrfmiddlewaretoken={SECRET}"
    response = client.post(CHECK_ALL, body, content_type=FORM)
    assert response.status_code == 200
    assert rows() == (1, 1)


# --- ASGI: AsyncClient ------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", [ADD, CHECK_ALL])
@pytest.mark.parametrize("charset", REFUSED_CHARSETS)
async def test_refused_charset_is_a_400_asgi(path, charset):
    client = await async_browser_client()
    assert_refused(
        await client.post(path, ADD_BODY, content_type=content_type(charset))
    )
    assert await sync_to_async(rows)() == (0, 0)


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_utf8_declared_is_read_asgi():
    client = await async_browser_client()
    response = await client.post(ADD, ADD_BODY, content_type=content_type("utf-8"))
    assert response.status_code == 302
    body = f"csrfmiddlewaretoken={SECRET}"
    response = await client.post(CHECK_ALL, body, content_type=FORM)
    assert response.status_code == 200
    assert await sync_to_async(rows)() == (1, 1)


# --- No thread hop of its own -------------------------------------------------------


def without_the_fix() -> list[str]:
    return [entry for entry in settings.MIDDLEWARE if entry != FIX]


async def hops_for_one_post(middleware: list[str], user, slug: str) -> dict:
    body = ADD_BODY.replace(b"slug=payments", f"slug={slug}".encode())
    with override_settings(MIDDLEWARE=middleware):
        client = await async_browser_client(user)
        with count_hops() as counts:
            response = await client.post(ADD, body, content_type=content_type("utf-8"))
    assert response.status_code == 302
    return dict(counts)


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_it_adds_no_thread_hop_under_asgi():
    assert FIX in settings.MIDDLEWARE
    user = await sync_to_async(make_user)()
    with_fix = await hops_for_one_post(settings.MIDDLEWARE, user, "one")
    without = await hops_for_one_post(without_the_fix(), user, "two")
    assert with_fix == without
    assert with_fix["sync_to_async"] > 0  # the counter counts: Django's own hops


def test_it_runs_in_the_mode_of_the_layer_below():
    async def async_view(request):
        raise NotImplementedError

    def sync_view(request):
        raise NotImplementedError

    assert FormCharsetMiddleware(async_view).is_async
    assert not FormCharsetMiddleware(sync_view).is_async
