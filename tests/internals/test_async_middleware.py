"""snippets/internals/async_middleware.py: the same behavior as Django's seven.

One scenario (a redirect to the slash URL, a CSRF cookie, a rejected and an
accepted POST, a session counter, a login with a message, messages that spill
from the cookie into the session, a logout) runs against startproject's
middleware and against the async-native classes, through ASGIHandler (called
directly) and through the sync handler (Django's test Client, which builds the
chain as WSGIHandler does). Every response must match: status, headers,
cookies, body.

This module is also the URLconf of its tests (ROOT_URLCONF=__name__).
"""

from __future__ import annotations

import asyncio
import random
from http.cookies import SimpleCookie
from importlib import import_module
from urllib.parse import urlencode

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import alogin, alogout, get_user_model
from django.contrib.messages import get_messages
from django.core.handlers.asgi import ASGIHandler
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.middleware.csrf import get_token
from django.test import Client, override_settings
from django.urls import path

from snippets.internals.async_middleware import (
    ASYNC_NATIVE_MIDDLEWARE,
    STARTPROJECT_MIDDLEWARE,
    AsyncMessageMiddleware,
    AsyncSecurityMiddleware,
    AsyncSessionMiddleware,
)
from snippets.internals.hops import count_hops

TOKEN = object()  # replaced by the token the last form gave the browser


async def form(request):
    # In a header, as a page would put it in a form: with CSRF_USE_SESSIONS
    # there is no cookie to read it from.
    return HttpResponse("form", headers={"X-Token": get_token(request)})


async def counter(request):
    count = await request.session.aget("count", 0) + 1
    await request.session.aset("count", count)
    return HttpResponse(str(count))


async def login(request):
    user = await get_user_model().objects.aget(username="ada")
    await alogin(request, user)
    messages.success(request, "welcome")
    return HttpResponseRedirect("/whoami/")


async def spill(request):
    # More than the message cookie holds (2 kB): the rest goes to the session.
    # Random bytes, because the cookie is compressed.
    for number in range(5):
        messages.info(request, random.Random(number).randbytes(500).hex())
    return HttpResponseRedirect("/whoami/")


async def note(request):
    messages.info(request, "checked")
    return HttpResponseRedirect("/whoami/")


async def whoami(request):
    user = await request.auser()
    # Reading may load the session: a query, so in a thread.
    seen = await sync_to_async(list)(get_messages(request))
    lengths = [len(str(message)) for message in seen]
    return HttpResponse(f"{user.get_username() or 'anonymous'} {lengths}")


async def logout(request):
    await alogout(request)
    return HttpResponse("bye")


async def page(request):
    return HttpResponse("ok")


urlpatterns = [
    path("form/", form),
    path("counter/", counter),
    path("login/", login),
    path("spill/", spill),
    path("whoami/", whoami),
    path("note/", note),
    path("logout/", logout),
    path("page/", page),
]

SCENARIO = [
    ("GET", "/form", None),  # CommonMiddleware: redirect to /form/
    ("GET", "/form/", None),  # the CSRF cookie
    ("POST", "/form/", {}),  # no token: 403
    ("POST", "/form/", {"csrfmiddlewaretoken": "not-the-token"}),  # 403
    ("POST", "/form/", {"csrfmiddlewaretoken": TOKEN}),
    ("GET", "/counter/", None),  # the session is saved: "1"
    ("GET", "/counter/", None),  # and read back: "2"
    ("POST", "/login/", {"csrfmiddlewaretoken": TOKEN}),  # new session, a message
    ("GET", "/whoami/", None),  # "ada [7]"
    ("GET", "/whoami/", None),  # "ada []"
    ("GET", "/form/", None),  # the token, rotated by the login
    ("POST", "/spill/", {"csrfmiddlewaretoken": TOKEN}),
    ("GET", "/whoami/", None),  # all five, from the cookie and the session
    ("POST", "/logout/", {"csrfmiddlewaretoken": TOKEN}),  # the cookie is deleted
    ("GET", "/whoami/", None),  # "anonymous []"
]
EXPECTED_BODIES = [
    b"",
    b"form",
    None,
    None,
    b"form",
    b"1",
    b"2",
    b"",
    b"ada [7]",
    b"ada []",
    b"form",
    b"",
    b"ada [1000, 1000, 1000, 1000, 1000]",
    b"bye",
    b"anonymous []",
]
EXPECTED_STATUSES = [301, 200, 403, 403, 200, 200, 200, 302, 200, 200, 200, 302]
EXPECTED_STATUSES += [200, 200, 200]


def morsel_shape(morsel) -> tuple:
    """A cookie without its random value and its clock-dependent expiry."""
    attributes = tuple(
        (key, "<date>" if key == "expires" else str(value))
        for key, value in sorted(morsel.items())
        if value
    )
    return (morsel.key, "<value>" if morsel.value else "", attributes)


def shape(status: int, headers: list[tuple[str, str]], cookies, body: bytes):
    headers = sorted(
        (name.lower(), "<token>" if name.lower() == "x-token" else value)
        for name, value in headers
    )
    return (status, headers, sorted(morsel_shape(m) for m in cookies), body)


class AsgiBrowser:
    """Sends requests straight to an ASGIHandler and keeps the cookies."""

    def __init__(self, handler: ASGIHandler):
        self.handler = handler
        self.cookies = SimpleCookie()
        self.token = ""

    async def request(self, method: str, path: str, data: dict | None = None):
        body = urlencode(data).encode() if data is not None else b""
        headers = [(b"host", b"testserver")]
        if data is not None:
            headers.append((b"content-type", b"application/x-www-form-urlencoded"))
        if self.cookies:
            jar = "; ".join(f"{k}={m.value}" for k, m in self.cookies.items())
            headers.append((b"cookie", jar.encode()))
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": headers,
            "client": ("127.0.0.1", 40000),
            "server": ("testserver", 80),
        }
        messages_in = [{"type": "http.request", "body": body, "more_body": False}]
        sent = []

        async def receive():
            if messages_in:
                return messages_in.pop()
            await asyncio.Event().wait()  # until the handler cancels it

        async def send(message):
            sent.append(message)

        await self.handler(scope, receive, send)
        start = sent[0]
        plain, cookies = [], []
        for name, value in start["headers"]:
            if name.lower() == b"set-cookie":
                jar = SimpleCookie()
                jar.load(value.decode())
                cookies.extend(jar.values())
                self.cookies.update(jar)
            else:
                plain.append((name.decode(), value.decode()))
                if name.lower() == b"x-token":
                    self.token = value.decode()
        content = b"".join(m.get("body", b"") for m in sent[1:])
        return shape(start["status"], plain, cookies, content)


class WsgiBrowser:
    """Django's test Client, with CSRF checks on as a real browser gets them."""

    def __init__(self):
        self.client = Client(enforce_csrf_checks=True)
        self.token = ""

    def request(self, method: str, path: str, data: dict | None = None):
        if method == "GET":
            response = self.client.get(path)
        else:
            response = self.client.post(path, data)
        headers = list(response.headers.items())
        self.token = response.headers.get("X-Token", self.token)
        return shape(
            response.status_code, headers, response.cookies.values(), response.content
        )


def filled(browser, data):
    if data is None:
        return None
    return {k: browser.token if v is TOKEN else v for k, v in data.items()}


async def run_asgi(middleware: list[str], **options) -> list:
    with override_settings(MIDDLEWARE=middleware, ROOT_URLCONF=__name__, **options):
        browser = AsgiBrowser(ASGIHandler())
        return [
            await browser.request(method, url, filled(browser, data))
            for method, url, data in SCENARIO
        ]


def run_wsgi(middleware: list[str], **options) -> list:
    with override_settings(MIDDLEWARE=middleware, ROOT_URLCONF=__name__, **options):
        browser = WsgiBrowser()
        return [
            browser.request(method, url, filled(browser, data))
            for method, url, data in SCENARIO
        ]


def check_scenario(results: list) -> None:
    assert [r[0] for r in results] == EXPECTED_STATUSES
    for result, body in zip(results, EXPECTED_BODIES, strict=True):
        if body is not None:
            assert result[3] == body


@pytest.fixture
def ada(django_user_model):
    django_user_model.objects.create_user("ada", password="pw")


# Django's defaults, and the settings that send the session and CSRF code
# down their other paths.
OPTIONS = [
    {},
    {
        "CSRF_USE_SESSIONS": True,
        "SESSION_EXPIRE_AT_BROWSER_CLOSE": True,
        "SESSION_SAVE_EVERY_REQUEST": True,
    },
]


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
@pytest.mark.usefixtures("ada")
@pytest.mark.parametrize("options", OPTIONS)
async def test_async_native_middleware_behaves_like_djangos_under_asgi(options):
    django = await run_asgi(STARTPROJECT_MIDDLEWARE, **options)
    native = await run_asgi(ASYNC_NATIVE_MIDDLEWARE, **options)
    check_scenario(django)
    assert native == django


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("ada")
@pytest.mark.parametrize("options", OPTIONS)
def test_async_native_middleware_behaves_like_djangos_under_wsgi(options):
    django = run_wsgi(STARTPROJECT_MIDDLEWARE, **options)
    native = run_wsgi(ASYNC_NATIVE_MIDDLEWARE, **options)
    check_scenario(django)
    assert native == django


@pytest.mark.asyncio
async def test_a_request_without_a_session_passes_through():
    # As when a middleware above SessionMiddleware answers before it runs.
    async def view(request):
        return HttpResponse()

    middleware = AsyncSessionMiddleware(view)
    response = HttpResponse("ok")
    assert await middleware.aprocess_response(HttpRequest(), response) is response


async def hops_for(middleware: list[str], method: str, url: str, data=None):
    with override_settings(MIDDLEWARE=middleware, ROOT_URLCONF=__name__):
        browser = AsgiBrowser(ASGIHandler())
        await browser.request("GET", "/form/")  # a CSRF cookie, and warm
        with count_hops() as counts:
            result = await browser.request(method, url, filled(browser, data))
    return result, dict(counts)


@pytest.mark.asyncio
async def test_async_native_middleware_makes_no_hop_of_its_own_under_asgi():
    _, none = await hops_for([], "GET", "/page/")
    result, native = await hops_for(ASYNC_NATIVE_MIDDLEWARE, "GET", "/page/")
    assert result[0] == 200
    # What is left is ASGIHandler's own: request_started and closing the response.
    assert native == none


@pytest.mark.asyncio
async def test_a_rejected_post_hops_once_for_its_log_line_and_page():
    _, none = await hops_for([], "POST", "/page/", {})
    result, native = await hops_for(ASYNC_NATIVE_MIDDLEWARE, "POST", "/page/", {})
    assert result[0] == 403
    assert native["thread_sensitive"] == none["thread_sensitive"] + 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_a_request_that_adds_a_message_hops_once():
    data = {"csrfmiddlewaretoken": TOKEN}
    native = ASYNC_NATIVE_MIDDLEWARE
    _, plain = await hops_for(native, "POST", "/form/", data)
    result, noted = await hops_for(native, "POST", "/note/", data)
    assert result[0] == 302
    # The default storage may write to the session, which loads it.
    assert noted["thread_sensitive"] == plain["thread_sensitive"] + 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_a_session_save_hops_only_for_its_queries():
    with count_hops() as queries:
        # What the view and the save ask of the database, with no middleware.
        engine = import_module(settings.SESSION_ENGINE)
        session = engine.SessionStore()
        await session.aset("count", 1)
        await session.asave()
    _, plain = await hops_for(ASYNC_NATIVE_MIDDLEWARE, "GET", "/page/")
    _, saved = await hops_for(ASYNC_NATIVE_MIDDLEWARE, "GET", "/counter/")
    assert queries["sync_to_async"] > 0
    assert saved["sync_to_async"] == plain["sync_to_async"] + queries["sync_to_async"]


class BlockingSecurityMiddleware(AsyncSecurityMiddleware):
    def process_response(self, request, response):
        # A project's override, which the mixin has not checked.
        return super().process_response(request, response)


@pytest.mark.asyncio
async def test_an_overridden_hook_goes_back_to_a_thread():
    blocking = f"{__name__}.BlockingSecurityMiddleware"
    _, plain = await hops_for([ASYNC_NATIVE_MIDDLEWARE[0]], "GET", "/page/")
    _, overridden = await hops_for([blocking], "GET", "/page/")
    assert overridden["thread_sensitive"] == plain["thread_sensitive"] + 1


def test_each_class_is_a_subclass_of_djangos_and_declares_both_modes():
    from django.utils.module_loading import import_string

    for ours, theirs in zip(
        ASYNC_NATIVE_MIDDLEWARE, STARTPROJECT_MIDDLEWARE, strict=True
    ):
        cls = import_string(ours)
        assert issubclass(cls, import_string(theirs))
        assert cls.sync_capable
        assert cls.async_capable
    assert AsyncMessageMiddleware.checked_hooks
