"""snippets/guides/views.py: async function and class-based views.

Each view is called through the sync handler (Django's test Client, built like
WSGIHandler) and the async handler (AsyncClient, built like ASGIHandler), on
both Django versions. The URLconf is the snippet module's own.
"""

from __future__ import annotations

import gc
import traceback
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync, iscoroutinefunction
from django.contrib.auth.decorators import (
    login_required,
    permission_required,
    user_passes_test,
)
from django.contrib.auth.models import Permission
from django.core.exceptions import ImproperlyConfigured, SynchronousOnlyOperation
from django.http import HttpResponse
from django.test import AsyncClient, Client, RequestFactory
from django.utils import timezone
from django.views.decorators import cache, clickjacking, common, csrf, http, vary
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.gzip import gzip_page

from sampleproject.board.demo import seed
from sampleproject.board.models import Check, Incident
from snippets.guides import views

pytestmark = [pytest.mark.urls("snippets.guides.views")]

HANDLERS = ["wsgi", "asgi"]


def call(handler, method, url, user=None, **extra):
    """One request through the chosen handler; the response, or what it raised."""
    if handler == "wsgi":
        client = Client()
        if user is not None:
            client.force_login(user)
        return getattr(client, method)(url, **extra)

    async def request():
        client = AsyncClient()
        if user is not None:
            await client.aforce_login(user)
        return await getattr(client, method)(url, **extra)

    return async_to_sync(request)()


@pytest.fixture
def board(db):
    services = {service.slug: service for service in seed()}
    payments = services["payments"]
    now = timezone.now()
    Check.objects.create(service=payments, checked_at=now, status_code=200, ok=True)
    Incident.objects.create(
        service=payments, opened_at=now - timedelta(minutes=5), cause="timeout"
    )
    return services


@pytest.fixture
def ada(django_user_model):
    return django_user_model.objects.create_user("ada", password="pw")


@pytest.fixture
def grace(django_user_model):
    """A user allowed to close incidents and see checks."""
    user = django_user_model.objects.create_user("grace", password="pw")
    user.user_permissions.add(
        Permission.objects.get(codename="change_incident"),
        Permission.objects.get(codename="view_check"),
    )
    return user


# Function views and async handlers.


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("handler", HANDLERS)
def test_async_function_view(board, handler):
    response = call(handler, "get", "/services/payments/latest/")
    assert response.json() == {"service": "payments", "ok": True}
    assert call(handler, "get", "/services/search/latest/").json()["ok"] is None
    assert call(handler, "get", "/services/nope/latest/").status_code == 404


def test_as_view_marks_an_all_async_view_as_a_coroutine_function():
    assert views.IncidentsView.view_is_async is True
    assert iscoroutinefunction(views.IncidentsView.as_view())


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("handler", HANDLERS)
def test_async_class_based_view(board, handler):
    url = "/services/payments/incidents/"
    assert call(handler, "get", url).json() == {
        "service": "payments",
        "open": ["timeout"],
    }
    assert call(handler, "delete", url).json() == {"service": "payments", "closed": 1}
    assert call(handler, "get", url).json()["open"] == []


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("handler", HANDLERS)
def test_async_view_answers_options_and_405(board, handler):
    url = "/services/payments/incidents/"
    head = call(handler, "head", url)
    assert head.status_code == 200
    assert head.content == b""
    options = call(handler, "options", url)
    assert options.status_code == 200
    assert options.headers["Allow"] == "GET, DELETE, HEAD, OPTIONS"
    refused = call(handler, "post", url)
    assert refused.status_code == 405
    assert refused.headers["Allow"] == "GET, DELETE, HEAD, OPTIONS"


def test_mixed_handlers_work_alone_but_not_together():
    view = views.MixedHandlersView()
    request = RequestFactory().get("/")
    assert view.get(request, "payments").content == b"payments"
    assert async_to_sync(view.delete)(request, "payments").status_code == 204


def test_mixed_handlers_fail_at_as_view():
    with pytest.raises(ImproperlyConfigured) as caught:
        views.MixedHandlersView.as_view()
    assert str(caught.value) == (
        "MixedHandlersView HTTP handlers must either be all sync or all async."
    )


# An async dispatch.


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("handler", HANDLERS)
def test_async_dispatch_runs_before_every_handler(board, handler):
    assert call(handler, "get", "/services/payments/").json() == {
        "service": "Payments API"
    }
    assert call(handler, "get", "/services/nope/").status_code == 404
    refused = call(handler, "post", "/services/payments/")
    assert refused.status_code == 405
    assert refused.content == b"Payments API: read only"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("handler", HANDLERS)
# The coroutine that Django refuses is never awaited: Python warns when it is
# collected.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.filterwarnings("ignore:coroutine .* was never awaited")
def test_async_dispatch_over_sync_handlers_returns_a_coroutine(board, handler):
    # view_is_async looks at the handlers only: the view is not marked async,
    # so Django calls it as sync code and gets dispatch's coroutine back.
    assert views.SyncHandlersAsyncDispatchView.view_is_async is False
    with pytest.raises(ValueError, match="unawaited coroutine") as caught:
        call(handler, "get", "/services/payments/sync/")
    # The traceback's frames hold the refused coroutine: free it here, under
    # this test's warning filters, not in whichever test runs next.
    traceback.clear_frames(caught.tb)
    del caught
    gc.collect()


def test_the_async_dispatch_itself_works_when_awaited():
    # The class is right; only the way Django calls it is not.
    view = views.SyncHandlersAsyncDispatchView()
    request = RequestFactory().get("/")
    view.setup(request, slug="payments")
    response = async_to_sync(view.dispatch)(request, slug="payments")
    assert response.content == b"payments"


# Decorators.

ASYNC_CAPABLE = [
    login_required,
    permission_required("board.view_check"),
    user_passes_test(lambda user: user.is_staff),
    cache.never_cache,
    cache.cache_control(max_age=60),
    cache.cache_page(60),
    clickjacking.xframe_options_deny,
    common.no_append_slash,
    csrf.csrf_exempt,
    csrf.csrf_protect,
    csrf.ensure_csrf_cookie,
    http.require_GET,
    http.require_POST,
    http.require_safe,
    http.require_http_methods(["GET", "DELETE"]),
    http.condition(etag_func=lambda request: "v1"),
    http.etag(lambda request: "v1"),
    http.last_modified(lambda request: None),
    vary.vary_on_cookie,
    vary.vary_on_headers("Accept-Language"),
    gzip_page,
    sensitive_post_parameters("password"),
]


@pytest.mark.parametrize("decorator", ASYNC_CAPABLE)
def test_decorator_keeps_an_async_view_async(decorator):
    async def view(request):
        raise NotImplementedError

    assert iscoroutinefunction(decorator(view))


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("handler", HANDLERS)
def test_a_decorator_for_both_kinds_of_view(board, handler):
    url = "/v1/services/payments/latest/"
    refused = call(handler, "get", url)
    assert refused.status_code == 400
    assert refused.json() == {"error": "send Board-Api-Version: 1"}
    answered = call(handler, "get", url, headers={"Board-Api-Version": "1"})
    assert answered.json() == {"service": "payments", "ok": True}


@pytest.mark.parametrize("kind", ["async", "sync"])
def test_the_decorator_keeps_the_kind_of_view(kind):
    async def async_view(request):
        return HttpResponse("async")

    def sync_view(request):
        return HttpResponse("sync")

    view = views.require_api_version_any(async_view if kind == "async" else sync_view)
    assert iscoroutinefunction(view) is (kind == "async")
    request = RequestFactory().get("/", headers={"Board-Api-Version": "1"})
    response = async_to_sync(view)(request) if kind == "async" else view(request)
    assert response.content == kind.encode()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("handler", HANDLERS)
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.filterwarnings("ignore:coroutine .* was never awaited")
def test_a_sync_only_decorator_hides_an_async_view(board, handler):
    assert not iscoroutinefunction(views.require_api_version(views.latest_check))
    # Refusing works: the view is not called, so no coroutine is made.
    assert call(handler, "get", "/broken/services/payments/latest/").status_code == 400
    with pytest.raises(ValueError, match="unawaited coroutine") as caught:
        call(
            handler,
            "get",
            "/broken/services/payments/latest/",
            headers={"Board-Api-Version": "1"},
        )
    traceback.clear_frames(caught.tb)
    del caught
    gc.collect()


@pytest.mark.needs_django(6, 0)
def test_csp_decorators_keep_an_async_view_async():
    from django.views.decorators.csp import csp_override, csp_report_only_override

    async def view(request):
        raise NotImplementedError

    assert iscoroutinefunction(csp_override({})(view))
    assert iscoroutinefunction(csp_report_only_override({})(view))


def test_method_decorator_keeps_an_async_method_async():
    assert iscoroutinefunction(views.ServiceAdminView.get)
    assert views.ServiceAdminView.view_is_async is True


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("handler", HANDLERS)
def test_method_decorator_on_an_async_handler(board, ada, handler):
    url = "/services/payments/admin/"
    anonymous = call(handler, "get", url)
    assert anonymous.status_code == 302
    assert anonymous.url == f"/admin/login/?next={url}"
    response = call(handler, "get", url, user=ada)
    assert response.json() == {"service": "payments", "user": "ada"}
    # never_cache, applied to the class's get by name, ran too.
    assert "no-cache" in response.headers["Cache-Control"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("handler", HANDLERS)
def test_permission_required_on_an_async_handler(board, ada, grace, handler):
    url = "/services/payments/checks/"
    assert call(handler, "get", url, user=ada).status_code == 403
    assert call(handler, "get", url, user=grace).json() == {
        "service": "payments",
        "checks": 1,
    }


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("handler", HANDLERS)
def test_login_required_around_as_view(board, ada, handler):
    url = "/staff/services/payments/incidents/"
    assert call(handler, "get", url).status_code == 302
    assert call(handler, "get", url, user=ada).json()["open"] == ["timeout"]


# The access mixins' trap, and the async mixins that replace them.


@pytest.mark.django_db(transaction=True)
def test_login_required_mixin_on_async_view_logged_in_asgi(board, ada):
    # The mixin's sync dispatch reads request.user on the event loop: the
    # lazy user loads the session and the user from the database there.
    with pytest.raises(SynchronousOnlyOperation):
        call("asgi", "get", "/services/payments/staff/", user=ada)


@pytest.mark.django_db(transaction=True)
def test_login_required_mixin_on_async_view_logged_in_wsgi(board, ada):
    # Under WSGI, async_to_sync calls the view in the request's own thread to
    # get its coroutine: the mixin's dispatch runs there, outside the loop.
    assert call("wsgi", "get", "/services/payments/staff/", user=ada).json() == {
        "service": "payments"
    }


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("handler", HANDLERS)
def test_login_required_mixin_on_async_view_anonymous(board, handler):
    # No session cookie, no query: the mixin returns its redirect, a plain
    # response that Django then awaits as if it were the handler's coroutine.
    expected = "object HttpResponseRedirect can't be used in 'await' expression"
    with pytest.raises(TypeError, match=expected):
        call(handler, "get", "/services/payments/staff/")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("handler", HANDLERS)
def test_async_mixins(board, ada, grace, handler):
    url = "/services/payments/close/"
    anonymous = call(handler, "post", url)
    assert anonymous.status_code == 302
    assert anonymous.url == f"/admin/login/?next={url}"
    assert call(handler, "post", url, user=ada).status_code == 403
    assert call(handler, "post", url, user=grace).json() == {
        "service": "payments",
        "closed": 1,
    }


def test_async_mixin_views_are_async():
    assert views.CloseIncidentsView.view_is_async is True
    assert iscoroutinefunction(views.AsyncLoginRequiredMixin.dispatch)
