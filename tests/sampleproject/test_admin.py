"""Every way into the Service table refuses the URLs the board's form refuses.

The admin's add and change views (sync views, reached through Client and
AsyncClient), and ``Model.full_clean()``. The model's validator needs no DNS, so
it refuses addresses written as literals; the admin's form also resolves names.
DNS is faked as in test_add_service.py.
"""

from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.test import AsyncClient, Client

from sampleproject.board.models import Service
from tests.sampleproject.test_add_service import FakeDNS

ADD = "/admin/board/service/add/"
GOOD_URL = "http://127.0.0.1:8001/svc/payments"
# (case id, URL, the error the admin shows under the URL field).
REFUSED = [
    (
        "metadata",
        "http://169.254.169.254/latest/meta-data/",
        "169.254.169.254 is a cloud metadata address;"
        " checks of cloud metadata addresses are never allowed",
    ),
    (
        "private",
        "http://10.0.0.1/",
        "10.0.0.1 is a private address; checks of private addresses are not allowed",
    ),
    (
        "unspecified",
        "http://0.0.0.0:8001/svc/payments",
        "0.0.0.0 is an unspecified address;"
        " checks of unspecified addresses are never allowed",
    ),
    (
        "private-dns-answer",
        "http://internal.example/health",
        "internal.example resolves to 10.0.0.5, a private address;"
        " checks of private addresses are not allowed",
    ),
]
REFUSED_IDS = [case[0] for case in REFUSED]
REFUSED_CASES = [case[1:] for case in REFUSED]
# The literal addresses: refused by the model itself, with no DNS.
LITERALS = [case[1:] for case in REFUSED if case[0] != "private-dns-answer"]
LITERAL_IDS = [case[0] for case in REFUSED if case[0] != "private-dns-answer"]


@pytest.fixture(autouse=True)
def dns(monkeypatch):
    fake = FakeDNS()
    monkeypatch.setattr("socket.getaddrinfo", fake)
    return fake


@pytest.fixture(autouse=True)
def loopback_allowed(settings):
    # As in development: the fake upstream on 127.0.0.1 may be checked.
    settings.BOARD_ALLOWED_TARGETS = ("loopback",)


def admin_data(url: str) -> dict:
    return {
        "name": "Payments",
        "slug": "payments",
        "url": url,
        "expected_status": "200",
        "timeout": "5",
        "interval": "00:01:00",
        "enabled": "on",
    }


def make_admin():
    return get_user_model().objects.create_superuser("root", "root@localhost", "pw")


def make_service() -> Service:
    return Service.objects.create(name="Payments", slug="payments", url=GOOD_URL)


def change_url(service: Service) -> str:
    return f"/admin/board/service/{service.pk}/change/"


def assert_url_refused(response, message):
    # The admin answers an invalid form with 200 and the form again.
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert list(errors) == ["url"], errors
    assert errors["url"] == [message]
    assert message in response.content.decode()


def stored_urls() -> list[str]:
    return list(Service.objects.values_list("url", flat=True))


# --- WSGI: Client -----------------------------------------------------------------


@pytest.mark.django_db
def test_admin_adds_a_good_url_wsgi():
    # The same data with a good URL saves: the refusals below are the URL's.
    client = Client()
    client.force_login(make_admin())
    response = client.post(ADD, admin_data(GOOD_URL))
    assert response.status_code == 302
    service = Service.objects.get()
    assert (service.url, service.interval) == (GOOD_URL, timedelta(minutes=1))


@pytest.mark.django_db
@pytest.mark.parametrize(("url", "message"), REFUSED_CASES, ids=REFUSED_IDS)
def test_admin_add_refuses_wsgi(url, message):
    client = Client()
    client.force_login(make_admin())
    assert_url_refused(client.post(ADD, admin_data(url)), message)
    assert stored_urls() == []


@pytest.mark.django_db
@pytest.mark.parametrize(("url", "message"), REFUSED_CASES, ids=REFUSED_IDS)
def test_admin_change_refuses_wsgi(url, message):
    client = Client()
    client.force_login(make_admin())
    service = make_service()
    assert_url_refused(client.post(change_url(service), admin_data(url)), message)
    assert stored_urls() == [GOOD_URL]


# --- ASGI: AsyncClient --------------------------------------------------------------


async def admin_async_client() -> AsyncClient:
    client = AsyncClient()
    await client.aforce_login(await sync_to_async(make_admin)())
    return client


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_admin_adds_a_good_url_asgi():
    client = await admin_async_client()
    response = await client.post(ADD, admin_data(GOOD_URL))
    assert response.status_code == 302
    assert await sync_to_async(stored_urls)() == [GOOD_URL]


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("url", "message"), REFUSED_CASES, ids=REFUSED_IDS)
async def test_admin_add_refuses_asgi(url, message):
    client = await admin_async_client()
    assert_url_refused(await client.post(ADD, admin_data(url)), message)
    assert await sync_to_async(stored_urls)() == []


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("url", "message"), REFUSED_CASES, ids=REFUSED_IDS)
async def test_admin_change_refuses_asgi(url, message):
    client = await admin_async_client()
    service = await sync_to_async(make_service)()
    response = await client.post(change_url(service), admin_data(url))
    assert_url_refused(response, message)
    assert await sync_to_async(stored_urls)() == [GOOD_URL]


# --- The model ----------------------------------------------------------------------


@pytest.mark.parametrize(("url", "message"), LITERALS, ids=LITERAL_IDS)
def test_full_clean_refuses_literal_addresses(dns, url, message):
    service = Service(name="Payments", slug="payments", url=url)
    with pytest.raises(ValidationError) as excinfo:
        service.full_clean(validate_unique=False)
    assert excinfo.value.message_dict == {"url": [message]}
    assert dns.lookups == []  # no DNS: safe to call from anywhere


def test_full_clean_accepts_a_good_url():
    Service(name="Payments", slug="payments", url=GOOD_URL).full_clean(
        validate_unique=False
    )
