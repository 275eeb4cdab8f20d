"""The add-a-service view, /services/add/, through WSGI (Client) and ASGI (AsyncClient).

The view is async: it resolves the user with ``request.auser()``, validates the
form in a thread and resolves the URL's host with the async resolver before it
saves. DNS is faked: ``internal.example`` answers 10.0.0.5, literal addresses go
to the real ``getaddrinfo`` with ``AI_NUMERICHOST`` (no DNS server is asked),
and any other name does not resolve.
"""

import html
import socket
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.test import AsyncClient, Client

from sampleproject.board.models import Service

ADD = "/services/add/"
LOGIN_REDIRECT = "/admin/login/?next=/services/add/"
UPSTREAM = "http://127.0.0.1:8001/svc/payments"
VALID = {
    "name": "Payments",
    "slug": "payments",
    "url": UPSTREAM,
    "expected_status": "200",
    "timeout": "2.5",
    "interval_seconds": "30",
}
XSS = "<script>alert(1)</script>"

REQUIRED = "This field is required."
# (case id, changes to VALID (None: field left out), field, error message).
BAD_INPUT = [
    ("no-name", {"name": None}, "name", REQUIRED),
    ("no-slug", {"slug": None}, "slug", REQUIRED),
    ("no-url", {"url": None}, "url", REQUIRED),
    ("no-interval", {"interval_seconds": None}, "interval_seconds", REQUIRED),
    ("malformed-url", {"url": "http://exa mple .com/"}, "url", "Enter a valid URL."),
    (
        "ftp-scheme",
        {"url": "ftp://127.0.0.1/file"},
        "url",
        "only http and https URLs can be checked, not ftp:",
    ),
    (
        "credentials",
        {"url": "http://user:secret@127.0.0.1:8001/"},
        "url",
        "URLs with credentials (user:password@) are not allowed",
    ),
    (
        "private-literal",
        {"url": "http://10.0.0.1/"},
        "url",
        "10.0.0.1 is a private address; checks of private addresses are not allowed",
    ),
    (
        "metadata",
        {"url": "http://169.254.169.254/latest/meta-data/"},
        "url",
        "169.254.169.254 is a cloud metadata address;"
        " checks of cloud metadata addresses are never allowed",
    ),
    (
        "private-dns-answer",
        {"url": "http://internal.example/health"},
        "url",
        "internal.example resolves to 10.0.0.5, a private address;"
        " checks of private addresses are not allowed",
    ),
    (
        "unresolvable",
        {"url": "http://nowhere.example/"},
        "url",
        "nowhere.example does not resolve",
    ),
    ("slug-spaces", {"slug": "my service"}, "slug", "Enter a valid “slug”"),
    ("slug-unicode", {"slug": "café"}, "slug", "Enter a valid “slug”"),
    (
        "status-99",
        {"expected_status": "99"},
        "expected_status",
        "Ensure this value is greater than or equal to 100.",
    ),
    (
        "status-600",
        {"expected_status": "600"},
        "expected_status",
        "Ensure this value is less than or equal to 599.",
    ),
    (
        "timeout-0",
        {"timeout": "0"},
        "timeout",
        "Ensure this value is greater than or equal to 0.1.",
    ),
    (
        "timeout-1000",
        {"timeout": "1000"},
        "timeout",
        "Ensure this value is less than or equal to 60.",
    ),
    (
        "interval-1",
        {"interval_seconds": "1"},
        "interval_seconds",
        "Ensure this value is greater than or equal to 5.",
    ),
    (
        "name-101",
        {"name": "x" * 101},
        "name",
        "Ensure this value has at most 100 characters (it has 101).",
    ),
]
BAD_IDS = [case[0] for case in BAD_INPUT]
BAD_CASES = [case[1:] for case in BAD_INPUT]


def post_data(**changes) -> dict:
    data = {**VALID, **changes}
    return {key: value for key, value in data.items() if value is not None}


class FakeDNS:
    """internal.example is private; literals parse locally; no other name resolves."""

    answers = {"internal.example": "10.0.0.5"}

    def __init__(self):
        self.real = socket.getaddrinfo
        self.lookups = []

    def __call__(self, host, port, family=0, type=0, proto=0, flags=0):
        self.lookups.append(host)
        if host in self.answers:
            address = self.answers[host]
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]
        flags |= socket.AI_NUMERICHOST  # a literal address, or gaierror: no DNS
        return self.real(host, port, family, type, proto, flags)


@pytest.fixture(autouse=True)
def dns(monkeypatch):
    fake = FakeDNS()
    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return fake


@pytest.fixture(autouse=True)
def fresh_cache():
    # The dashboard caches its tiles for a few seconds in process memory.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def loopback_allowed(settings):
    settings.BOARD_ALLOWED_TARGETS = ("loopback",)


def make_user():
    return get_user_model().objects.create_user("ada", password="pw-not-checked")


def service_rows():
    return list(Service.objects.values_list("slug", flat=True))


def form_errors(response) -> dict:
    return {
        field: list(errors) for field, errors in response.context["form"].errors.items()
    }


def assert_form_page(response, status):
    assert response.status_code == status
    assert response["Content-Type"].startswith("text/html")
    body = response.content.decode()
    assert "<h1>Add a service</h1>" in body
    assert 'name="csrfmiddlewaretoken"' in body
    for field in VALID:
        assert f'name="{field}"' in body
    return body


def assert_refused(response, field, message):
    body = assert_form_page(response, 400)
    errors = form_errors(response)[field]
    assert any(message in error for error in errors), errors
    assert html.escape(message, quote=True) in body  # shown to the person too
    assert "errorlist" in body


def assert_created(response, rows):
    assert response.status_code == 302
    assert response["Location"] == "/services/payments/"
    assert rows == ["payments"]


def assert_stored(service):
    assert service.name == "Payments"
    assert service.url == UPSTREAM
    assert service.expected_status == 200
    assert service.timeout == 2.5
    assert service.interval == timedelta(seconds=30)
    assert service.enabled


# --- WSGI: Client ---------------------------------------------------------------


@pytest.mark.django_db
def test_anonymous_is_sent_to_login_wsgi():
    for response in (Client().get(ADD), Client().post(ADD, post_data())):
        assert response.status_code == 302
        assert response["Location"] == LOGIN_REDIRECT
    assert service_rows() == []


@pytest.mark.django_db
def test_form_is_shown_wsgi():
    client = Client()
    client.force_login(make_user())
    body = assert_form_page(client.get(ADD), 200)
    assert "errorlist" not in body
    assert 'value="60"' in body  # interval_seconds' initial value


@pytest.mark.django_db
def test_valid_post_creates_the_service_wsgi(dns):
    client = Client()
    client.force_login(make_user())
    response = client.post(ADD, post_data())
    assert_created(response, service_rows())
    assert_stored(Service.objects.get(slug="payments"))
    assert "127.0.0.1" in dns.lookups  # the host was checked
    # Where the redirect points exists.
    assert client.get(response["Location"]).status_code == 200


@pytest.mark.django_db
def test_post_without_csrf_token_is_forbidden_wsgi():
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_user())
    response = client.post(ADD, post_data())
    assert response.status_code == 403
    assert service_rows() == []


@pytest.mark.django_db
def test_post_with_csrf_token_passes_wsgi():
    # The same client succeeds with the token the form carries: the 403 above
    # is the CSRF check, not something else.
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_user())
    client.get(ADD)
    token = client.cookies["csrftoken"].value
    response = client.post(ADD, post_data(csrfmiddlewaretoken=token))
    assert_created(response, service_rows())


@pytest.mark.django_db
@pytest.mark.parametrize(("changes", "field", "message"), BAD_CASES, ids=BAD_IDS)
def test_bad_input_is_refused_wsgi(changes, field, message):
    client = Client()
    client.force_login(make_user())
    assert_refused(client.post(ADD, post_data(**changes)), field, message)
    assert service_rows() == []


@pytest.mark.django_db
def test_private_dns_answer_is_looked_up_wsgi(dns):
    client = Client()
    client.force_login(make_user())
    client.post(ADD, post_data(url="http://internal.example/health"))
    assert dns.lookups == ["internal.example"]


@pytest.mark.django_db
def test_empty_post_is_refused_wsgi():
    client = Client()
    client.force_login(make_user())
    response = client.post(ADD, {})
    assert_refused(response, "name", REQUIRED)
    assert set(form_errors(response)) == set(VALID)  # every field is required
    assert service_rows() == []


@pytest.mark.django_db
def test_duplicate_slug_is_refused_wsgi():
    Service.objects.create(name="Old", slug="payments", url="http://127.0.0.1/")
    client = Client()
    client.force_login(make_user())
    response = client.post(ADD, post_data())
    assert_refused(response, "slug", "Service with this Slug already exists.")
    assert Service.objects.get().name == "Old"


@pytest.mark.django_db
def test_name_is_escaped_everywhere_wsgi():
    client = Client()
    client.force_login(make_user())
    response = client.post(ADD, post_data(name=XSS))
    assert_created(response, service_rows())
    assert Service.objects.get().name == XSS  # stored as typed
    for url in ("/", "/services/payments/"):
        page = client.get(url)
        assert page.status_code == 200
        body = page.content.decode()
        assert XSS not in body
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body


@pytest.mark.django_db
def test_oversized_body_is_a_400_wsgi(settings):
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE == 64 * 1024
    client = Client()
    client.force_login(make_user())
    response = client.post(ADD, post_data(name="x" * (64 * 1024)))
    assert response.status_code == 400
    assert service_rows() == []


@pytest.mark.django_db
def test_body_just_under_the_limit_is_read_wsgi():
    # The 400 above comes from the size limit: a body under it gets a form error.
    client = Client()
    client.force_login(make_user())
    response = client.post(ADD, post_data(name="x" * (60 * 1024)))
    assert_refused(response, "name", "Ensure this value has at most 100 characters")
    assert service_rows() == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [b"\xff\xfe\x00garbage\x80\x81=\xc3(", b"slug=%ff%fe&name=%c3%28"],
    ids=["raw-bytes", "percent-encoded"],
)
def test_non_utf8_body_is_a_400_wsgi(body):
    client = Client()
    client.force_login(make_user())
    content_type = "application/x-www-form-urlencoded"
    response = client.post(ADD, body, content_type=content_type)
    assert_form_page(response, 400)
    assert REQUIRED in form_errors(response)["url"]
    assert service_rows() == []


# --- ASGI: AsyncClient ------------------------------------------------------------


async def logged_in_async_client(**options) -> AsyncClient:
    client = AsyncClient(**options)
    await client.aforce_login(await sync_to_async(make_user)())
    return client


async def arows():
    return await sync_to_async(service_rows)()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_anonymous_is_sent_to_login_asgi():
    for response in (await AsyncClient().get(ADD), await AsyncClient().post(ADD)):
        assert response.status_code == 302
        assert response["Location"] == LOGIN_REDIRECT
    assert await arows() == []


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_form_is_shown_asgi():
    client = await logged_in_async_client()
    body = assert_form_page(await client.get(ADD), 200)
    assert "errorlist" not in body


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_valid_post_creates_the_service_asgi(dns):
    client = await logged_in_async_client()
    response = await client.post(ADD, post_data())
    assert_created(response, await arows())
    assert_stored(await Service.objects.aget(slug="payments"))
    assert "127.0.0.1" in dns.lookups
    assert (await client.get(response["Location"])).status_code == 200


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_post_without_csrf_token_is_forbidden_asgi():
    client = await logged_in_async_client(enforce_csrf_checks=True)
    response = await client.post(ADD, post_data())
    assert response.status_code == 403
    assert await arows() == []


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("changes", "field", "message"), BAD_CASES, ids=BAD_IDS)
async def test_bad_input_is_refused_asgi(changes, field, message):
    client = await logged_in_async_client()
    assert_refused(await client.post(ADD, post_data(**changes)), field, message)
    assert await arows() == []


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_empty_post_is_refused_asgi():
    client = await logged_in_async_client()
    response = await client.post(ADD, {})
    assert_refused(response, "url", REQUIRED)
    assert set(form_errors(response)) == set(VALID)
    assert await arows() == []


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_duplicate_slug_is_refused_asgi():
    await Service.objects.acreate(name="Old", slug="payments", url="http://127.0.0.1/")
    client = await logged_in_async_client()
    response = await client.post(ADD, post_data())
    assert_refused(response, "slug", "Service with this Slug already exists.")
    assert (await Service.objects.aget()).name == "Old"


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_name_is_escaped_everywhere_asgi():
    client = await logged_in_async_client()
    response = await client.post(ADD, post_data(name=XSS))
    assert_created(response, await arows())
    for url in ("/", "/services/payments/"):
        page = await client.get(url)
        assert page.status_code == 200
        body = page.content.decode()
        assert XSS not in body
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_oversized_body_is_a_400_asgi():
    client = await logged_in_async_client()
    response = await client.post(ADD, post_data(name="x" * (64 * 1024)))
    assert response.status_code == 400
    assert await arows() == []


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_non_utf8_body_is_a_400_asgi():
    client = await logged_in_async_client()
    body = b"\xff\xfe\x00garbage\x80\x81=\xc3("
    content_type = "application/x-www-form-urlencoded"
    response = await client.post(ADD, body, content_type=content_type)
    assert_form_page(response, 400)
    assert await arows() == []
