"""snippets/guides/auth.py: sign in, sessions, permissions, CSRF, a backend.

Each view runs through the sync handler (Django's test Client, built like
WSGIHandler) and the async handler (AsyncClient, built like ASGIHandler), on
both Django versions, with the snippet module as the URLconf.
"""

from __future__ import annotations

from datetime import timedelta

import django
import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.contrib.auth import aauthenticate, alogin, get_user_model
from django.contrib.auth.decorators import user_passes_test
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.auth.models import AnonymousUser, Permission
from django.contrib.sessions.middleware import SessionMiddleware
from django.core.exceptions import SynchronousOnlyOperation
from django.http import HttpResponse
from django.test import AsyncClient, AsyncRequestFactory, Client
from django.utils import timezone

from sampleproject.board.demo import seed
from sampleproject.board.models import Incident
from snippets.guides import auth
from snippets.internals.hops import count_hops

pytestmark = [
    pytest.mark.urls("snippets.guides.auth"),
    pytest.mark.django_db(transaction=True),
]

HANDLERS = ["wsgi", "asgi"]
BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "snippets.guides.auth.SignedTokenBackend",
]


class Browser:
    """One client (and its cookies) kept across requests, through one handler."""

    def __init__(self, handler, **options):
        self.handler = handler
        self.client = (Client if handler == "wsgi" else AsyncClient)(**options)

    def login(self, user):
        if self.handler == "wsgi":
            self.client.force_login(user)
        else:
            async_to_sync(self.client.aforce_login)(user)

    def request(self, method, url, **data):
        send = getattr(self.client, method)
        if self.handler == "wsgi":
            return send(url, data)
        return async_to_sync(send)(url, data)

    def get(self, url, **data):
        return self.request("get", url, **data)

    def post(self, url, **data):
        return self.request("post", url, **data)


@pytest.fixture
def ada(django_user_model):
    return django_user_model.objects.create_user("ada", password="s3cret")


@pytest.fixture
def grace(django_user_model):
    """Staff, and allowed to close incidents."""
    user = django_user_model.objects.create_user(
        "grace", password="s3cret", is_staff=True
    )
    user.user_permissions.add(Permission.objects.get(codename="change_incident"))
    return user


@pytest.fixture
def incident():
    payments = next(service for service in seed() if service.slug == "payments")
    return Incident.objects.create(
        service=payments,
        opened_at=timezone.now() - timedelta(minutes=5),
        cause="timeout",
    )


@pytest.mark.parametrize("handler", HANDLERS)
@pytest.mark.parametrize("url", ["/whoami/", "/whoami/sync/"])
def test_whoami(ada, handler, url):
    browser = Browser(handler)
    assert browser.get(url).json() == {"user": None}
    browser.login(ada)
    assert browser.get(url).json() == {"user": "ada"}


@pytest.mark.parametrize("handler", HANDLERS)
def test_sign_in_and_out(ada, handler):
    browser = Browser(handler)
    wrong = browser.post("/sign-in/", username="ada", password="nope")
    assert wrong.status_code == 400
    assert wrong.json() == auth.UNKNOWN
    assert browser.post("/sign-in/", username="ada").status_code == 400
    assert browser.get("/sign-in/").status_code == 405
    signed_in = browser.post("/sign-in/", username="ada", password="s3cret")
    assert signed_in.json() == {"user": "ada"}
    assert browser.get("/whoami/").json() == {"user": "ada"}
    assert browser.post("/sign-out/").json() == {"user": None}
    assert browser.get("/whoami/").json() == {"user": None}


@pytest.mark.parametrize("handler", HANDLERS)
def test_session_acknowledge(ada, incident, handler):
    browser = Browser(handler)
    url = f"/incidents/{incident.pk}/acknowledge/"
    anonymous = browser.post(url)
    assert anonymous.status_code == 302
    assert anonymous.url == f"/admin/login/?next={url}"
    browser.login(ada)
    assert browser.post(url).json() == {"acknowledged": [incident.pk]}
    # Twice: stored once, and still there on the next request.
    assert browser.post(url).json() == {"acknowledged": [incident.pk]}


@pytest.mark.parametrize("handler", HANDLERS)
def test_close_incident_needs_the_permission(ada, grace, incident, handler):
    url = f"/incidents/{incident.pk}/close/"
    assert Browser(handler).post(url).status_code == 403
    browser = Browser(handler)
    browser.login(ada)
    assert browser.post(url).status_code == 403
    browser = Browser(handler)
    browser.login(grace)
    assert browser.post(url).json() == {"closed": incident.pk}
    assert browser.post(url).status_code == 404


@pytest.mark.parametrize("handler", HANDLERS)
def test_user_passes_test_on_an_async_view(ada, grace, handler):
    browser = Browser(handler)
    browser.login(ada)
    assert browser.get("/staff/").status_code == 302
    browser.login(grace)
    assert browser.get("/staff/").json() == {"staff": "grace"}


@pytest.mark.parametrize("handler", HANDLERS)
def test_csrf_protects_async_views(ada, handler):
    browser = Browser(handler, enforce_csrf_checks=True)
    refused = browser.post("/sign-in/", username="ada", password="s3cret")
    assert refused.status_code == 403
    token = browser.get("/incidents/form/").content.decode()
    accepted = browser.post(
        "/sign-in/", username="ada", password="s3cret", csrfmiddlewaretoken=token
    )
    assert accepted.json() == {"user": "ada"}


# The custom backend.


@pytest.mark.parametrize("handler", HANDLERS)
def test_sign_in_with_a_signed_token(settings, ada, handler):
    settings.AUTHENTICATION_BACKENDS = BACKENDS
    browser = Browser(handler)
    assert browser.post("/sign-in/token/", token="ada:forged").status_code == 400
    assert browser.post("/sign-in/token/").status_code == 400
    signed_in = browser.post("/sign-in/token/", token=auth.make_token(ada))
    assert signed_in.json() == {"user": "ada"}
    # The next request finds the user through the backend's aget_user.
    assert browser.get("/whoami/").json() == {"user": "ada"}


def test_expired_or_inactive_token_is_refused(settings, monkeypatch, ada):
    settings.AUTHENTICATION_BACKENDS = BACKENDS
    token = auth.make_token(ada)
    backend = auth.SignedTokenBackend()
    assert backend.authenticate(None, token=token) == ada
    assert async_to_sync(backend.aauthenticate)(None, token=token) == ada
    monkeypatch.setattr(auth.SignedTokenBackend, "max_age", -1)
    assert backend.authenticate(None, token=token) is None
    assert async_to_sync(backend.aauthenticate)(None, token=token) is None
    monkeypatch.undo()
    ada.is_active = False
    ada.save()
    assert backend.authenticate(None, token=token) is None
    assert async_to_sync(backend.aauthenticate)(None, token=token) is None
    assert backend.get_user(ada.pk) is None
    assert async_to_sync(backend.aget_user)(ada.pk) is None


@pytest.mark.asyncio
async def test_backend_aauthenticate_is_native(settings, monkeypatch, ada):
    settings.AUTHENTICATION_BACKENDS = BACKENDS
    sync_calls = []
    authenticate = auth.SignedTokenBackend.authenticate

    def spy(self, request, token=None):
        sync_calls.append(token)
        return authenticate(self, request, token=token)

    monkeypatch.setattr(auth.SignedTokenBackend, "authenticate", spy)
    token = auth.make_token(ada)
    with count_hops() as hops:
        user = await aauthenticate(token=token)
    assert user.backend == BACKENDS[1]
    # The one hop is the ORM's aget, not the whole sync backend in a thread.
    assert sync_calls == []
    assert hops["sync_to_async"] == 1


@pytest.mark.asyncio
async def test_sync_only_backend_runs_in_one_thread_hop(settings, monkeypatch, ada):
    # Without its own aauthenticate, BaseBackend sends authenticate to a thread.
    settings.AUTHENTICATION_BACKENDS = BACKENDS
    monkeypatch.delattr(auth.SignedTokenBackend, "aauthenticate")
    with count_hops() as hops:
        user = await aauthenticate(token=auth.make_token(ada))
    assert user == ada
    assert hops["sync_to_async"] == 1


# What request.auser() costs, and request.user's trap.


async def logged_in_request(user):
    """A request carrying ``user``'s session, through the two middleware."""
    request = AsyncRequestFactory().get("/whoami/")
    SessionMiddleware(HttpResponse).process_request(request)
    AuthenticationMiddleware(HttpResponse).process_request(request)
    await alogin(request, user)
    await request.session.asave()
    fresh = AsyncRequestFactory().get("/whoami/")
    fresh.COOKIES["sessionid"] = request.session.session_key
    SessionMiddleware(HttpResponse).process_request(fresh)
    AuthenticationMiddleware(HttpResponse).process_request(fresh)
    return fresh


@pytest.mark.asyncio
async def test_auser_loads_session_and_user_once(ada):
    request = await logged_in_request(ada)
    with count_hops() as first:
        assert await request.auser() == ada
    with count_hops() as again:
        assert await request.auser() == ada
    # The session row, then the user row: two hops to the ORM's threads.
    assert first["sync_to_async"] == 2
    assert again["sync_to_async"] == 0


@pytest.mark.asyncio
async def test_request_user_in_async_code_raises(ada):
    request = await logged_in_request(ada)
    with pytest.raises(SynchronousOnlyOperation):
        _ = request.user.is_authenticated


@pytest.mark.asyncio
async def test_auser_after_alogin_is_the_new_user(ada):
    request = AsyncRequestFactory().get("/sign-in/")
    SessionMiddleware(HttpResponse).process_request(request)
    AuthenticationMiddleware(HttpResponse).process_request(request)
    assert isinstance(await request.auser(), AnonymousUser)
    await alogin(request, ada)
    if django.VERSION >= (6, 1):
        assert await request.auser() == ada
    else:
        # 5.2 caches the first answer for the rest of the request.
        assert isinstance(await request.auser(), AnonymousUser)


@pytest.mark.parametrize("handler", HANDLERS)
def test_request_user_in_an_async_view(ada, handler):
    browser = Browser(handler)
    assert browser.get("/whoami/sync-user/").json() == {"user": None}
    browser.login(ada)
    # Under WSGI too: the view's body runs in the event loop that asgiref
    # starts for it, in a thread of its own.
    with pytest.raises(SynchronousOnlyOperation):
        browser.get("/whoami/sync-user/")


@pytest.mark.asyncio
async def test_session_item_access_in_async_code_raises(ada):
    request = await logged_in_request(ada)
    with pytest.raises(SynchronousOnlyOperation):
        _ = request.session["_auth_user_id"]
    assert await request.session.aget("_auth_user_id") == str(ada.pk)


@pytest.mark.asyncio
async def test_ahas_perm_queries_once_per_user_object(grace):
    user = await get_user_model().objects.aget(pk=grace.pk)
    with count_hops() as first:
        assert await user.ahas_perm("board.change_incident")
    with count_hops() as again:
        assert not await user.ahas_perm("board.delete_incident")
    # The user's permissions, then its groups' permissions: cached on the user.
    assert first["sync_to_async"] == 2
    assert again["sync_to_async"] == 0


@pytest.mark.asyncio
async def test_user_passes_test_with_an_async_test_makes_no_hop(grace):
    request = AsyncRequestFactory().get("/staff/")

    async def auser():
        return grace

    request.auser = auser
    with count_hops() as hops:
        response = await auth.staff_only(request)
    assert response.status_code == 200
    assert hops["sync_to_async"] == 0
    sync_test = user_passes_test(lambda user: user.is_staff)(
        auth.staff_only.__wrapped__
    )
    with count_hops() as hops:
        response = await sync_test(request)
    assert response.status_code == 200
    assert hops["sync_to_async"] == 1


@pytest.mark.asyncio
async def test_a_backend_without_base_backend_breaks_aauthenticate(settings, ada):
    settings.AUTHENTICATION_BACKENDS = ["snippets.guides.auth.LegacyTokenBackend"]
    token = auth.make_token(ada)
    with pytest.raises(AttributeError, match="has no attribute 'aauthenticate'"):
        await aauthenticate(token=token)
    backend = auth.LegacyTokenBackend()
    assert await sync_to_async(backend.authenticate)(None, token=token) == ada
    assert await sync_to_async(backend.get_user)(ada.pk) == ada


def test_user_model_has_async_permission_checks():
    user_model = get_user_model()
    for name in ("ahas_perm", "ahas_perms", "ahas_module_perms"):
        assert callable(getattr(user_model, name))
