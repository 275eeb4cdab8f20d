"""Tests for docs/internals/history.md: what each release shipped, and what did not.

Each test proves one sentence of the page against the installed Django, so a
claim about "today" cannot outlive the version it describes. Views and a URL
configuration live at module level: the WSGI and ASGI handler tests route to
them with ``settings.ROOT_URLCONF = __name__``.
"""

import asyncio
import importlib.util
import inspect
import threading
import time
from wsgiref.util import setup_testing_defaults

import django
import pytest
from asgiref.sync import iscoroutinefunction, sync_to_async
from asgiref.testing import ApplicationCommunicator
from django import db, forms, shortcuts
from django.contrib import auth
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.decorators import (
    login_required,
    permission_required,
    user_passes_test,
)
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.auth.models import AnonymousUser, User, UserManager
from django.contrib.sessions.backends.base import SessionBase
from django.contrib.sessions.middleware import SessionMiddleware
from django.core import mail
from django.core.asgi import get_asgi_application
from django.core.cache import cache
from django.core.cache.backends import dummy, filebased, locmem, memcached, redis
from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.db import DatabaseCache
from django.core.exceptions import ImproperlyConfigured, SynchronousOnlyOperation
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.wsgi import WSGIHandler
from django.db.backends.utils import CursorWrapper
from django.db.models import Model, QuerySet
from django.dispatch import Signal
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.template import engines
from django.template.backends import django as django_backend
from django.template.backends import jinja2 as jinja2_backend
from django.template.loader import render_to_string
from django.test import AsyncClient, AsyncRequestFactory, Client, RequestFactory
from django.urls import path
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from sampleproject.board.asyncattr import async_namespace
from sampleproject.board.models import Incident, Service
from sampleproject.board.notify import IncidentNotifier
from sampleproject.board.recording import Change

SAFETY_MESSAGE = (
    "You cannot call this from an async context - use a thread or sync_to_async."
)


# Views and URLs for the handler tests.

handler_events: dict[str, object] = {}


def loop_view(request):
    """A sync view that reports whether an event loop runs in its thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return HttpResponse("no event loop")
    return HttpResponse("event loop running")


async def async_view(request):
    handler_events["thread"] = threading.get_ident()
    return HttpResponse("async view answered")


async def slow_view(request):
    handler_events["started"].set()
    try:
        await asyncio.sleep(10)
    except asyncio.CancelledError:
        handler_events["cancelled"] = True
        raise
    return HttpResponse("too late")


urlpatterns = [
    path("history/loop/", loop_view),
    path("history/async/", async_view),
    path("history/slow/", slow_view),
]


@pytest.fixture
def own_urls(settings):
    """Route to this module's views, with no middleware in the way."""
    settings.ROOT_URLCONF = __name__
    settings.MIDDLEWARE = []
    handler_events.clear()


def call_wsgi(handler: WSGIHandler, path_info: str) -> tuple[str, bytes]:
    environ = {"PATH_INFO": path_info, "HTTP_HOST": "testserver"}
    setup_testing_defaults(environ)
    statuses = []
    response = handler(environ, lambda status, headers: statuses.append(status))
    try:
        return statuses[0], b"".join(response)
    finally:
        response.close()


def http_scope(path_info: str) -> dict:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path_info,
        "raw_path": path_info.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }


# The plan and the names: DEP 0009, the wiki, and what shipped.


def test_async_variants_use_the_a_prefix_not_the_dep_suffix():
    assert iscoroutinefunction(BaseCache.aget)
    assert not hasattr(BaseCache, "get_async")
    assert iscoroutinefunction(QuerySet.acount)
    assert not hasattr(QuerySet, "count_async")
    assert iscoroutinefunction(Signal.asend)
    assert not hasattr(Signal, "send_async")


def test_there_are_no_async_twin_modules():
    assert importlib.util.find_spec("django.core.cache_async") is None
    assert importlib.util.find_spec("django.db.models_async") is None


def test_the_wiki_a_namespace_did_not_ship():
    # cache is a proxy to the default backend: neither has an ``a`` attribute.
    assert not hasattr(cache, "a")
    assert not hasattr(BaseCache, "a")
    # The async test client is a class of its own, not ``client.a.get``.
    assert not hasattr(Client, "a")
    assert not issubclass(AsyncClient, Client)


def test_there_is_no_as_async_view():
    assert not hasattr(View, "as_async_view")


@pytest.mark.parametrize(
    ("owner", "name"),
    [
        pytest.param(BaseCache, "aget", id="4.0-BaseCache.aget"),
        pytest.param(BaseCache, "aset", id="4.0-BaseCache.aset"),
        pytest.param(QuerySet, "acount", id="4.1-QuerySet.acount"),
        pytest.param(QuerySet, "aget", id="4.1-QuerySet.aget"),
        pytest.param(QuerySet, "aiterator", id="4.1-QuerySet.aiterator"),
        pytest.param(Model, "asave", id="4.2-Model.asave"),
        pytest.param(Model, "adelete", id="4.2-Model.adelete"),
        pytest.param(Model, "arefresh_from_db", id="4.2-Model.arefresh_from_db"),
        pytest.param(
            Service.checks.related_manager_cls, "aadd", id="4.2-RelatedManager.aadd"
        ),
        pytest.param(Signal, "asend", id="5.0-Signal.asend"),
        pytest.param(Signal, "asend_robust", id="5.0-Signal.asend_robust"),
        pytest.param(auth, "aauthenticate", id="5.0-aauthenticate"),
        pytest.param(auth, "alogin", id="5.0-alogin"),
        pytest.param(auth, "alogout", id="5.0-alogout"),
        pytest.param(auth, "aget_user", id="5.0-aget_user"),
        pytest.param(
            auth, "aupdate_session_auth_hash", id="5.0-aupdate_session_auth_hash"
        ),
        pytest.param(shortcuts, "aget_object_or_404", id="5.0-aget_object_or_404"),
        pytest.param(Client, "alogin", id="5.0-Client.alogin"),
        pytest.param(SessionBase, "aget", id="5.1-SessionBase.aget"),
        pytest.param(SessionBase, "acycle_key", id="5.1-SessionBase.acycle_key"),
        pytest.param(UserManager, "acreate_user", id="5.2-UserManager.acreate_user"),
        pytest.param(User, "ahas_perm", id="5.2-User.ahas_perm"),
        pytest.param(ModelBackend, "aauthenticate", id="5.2-ModelBackend"),
    ],
)
def test_a_prefixed_variants(owner, name):
    variant = getattr(owner, name)
    # aiterator() is an async generator function; the others are coroutine functions.
    assert iscoroutinefunction(variant) or inspect.isasyncgenfunction(variant)
    # Each one has a sync twin of the same name without the prefix.
    assert callable(getattr(owner, name[1:]))


# 3.0: ASGI support and async safety.


def test_get_asgi_application_returns_the_asgi_handler():
    assert isinstance(get_asgi_application(), ASGIHandler)


@pytest.mark.django_db
@pytest.mark.asyncio
async def test_sync_orm_call_in_async_code_raises():
    with pytest.raises(SynchronousOnlyOperation) as raised:
        Service.objects.count()
    assert str(raised.value) == SAFETY_MESSAGE


@pytest.mark.asyncio
async def test_asgi_handler_refuses_websocket_connections():
    with pytest.raises(ValueError, match=r"^Django can only handle ASGI/HTTP") as e:
        await ASGIHandler()({"type": "websocket"}, None, None)
    assert str(e.value).endswith("connections, not websocket.")


# 3.1: async views, middleware, tests.


def test_async_view_runs_under_wsgi(own_urls):
    status, body = call_wsgi(WSGIHandler(), "/history/async/")
    assert status == "200 OK"
    assert body == b"async view answered"


def test_wsgi_runs_sync_views_with_no_event_loop(own_urls):
    status, body = call_wsgi(WSGIHandler(), "/history/loop/")
    assert status == "200 OK"
    assert body == b"no event loop"


@pytest.mark.asyncio
async def test_asgi_runs_async_views_on_the_event_loop_thread(own_urls):
    communicator = ApplicationCommunicator(ASGIHandler(), http_scope("/history/async/"))
    await communicator.send_input({"type": "http.request", "body": b""})
    start = await communicator.receive_output(timeout=5)
    body = await communicator.receive_output(timeout=5)
    await communicator.wait(timeout=5)

    assert start["status"] == 200
    assert body["body"] == b"async view answered"
    assert handler_events["thread"] == threading.get_ident()


@pytest.mark.asyncio
async def test_async_client_runs_async_views(own_urls):
    response = await AsyncClient().get("/history/async/")
    assert response.content == b"async view answered"


# 4.0: the async cache API.


class SyncOnlyCache(BaseCache):
    """A backend that implements only the sync API, as every built-in one does."""

    def __init__(self):
        super().__init__({})
        self.threads = []

    def get(self, key, default=None, version=None):
        self.threads.append(threading.get_ident())
        return f"value of {key}"


@pytest.mark.asyncio
async def test_base_cache_aget_runs_the_sync_get_in_a_thread():
    backend = SyncOnlyCache()

    assert await backend.aget("board:tiles") == "value of board:tiles"
    assert backend.threads
    assert backend.threads[0] != threading.get_ident()


@pytest.mark.parametrize(
    "backend",
    [
        locmem.LocMemCache,
        redis.RedisCache,
        DatabaseCache,
        filebased.FileBasedCache,
        memcached.PyMemcacheCache,
        dummy.DummyCache,
    ],
)
def test_no_built_in_cache_backend_overrides_the_async_wrappers(backend):
    for name in ("aget", "aset", "adelete", "aget_many", "ahas_key"):
        assert getattr(backend, name) is getattr(BaseCache, name)


# 4.1: the async ORM interface and async class-based views.


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_async_orm_runs_the_sync_query_in_a_worker_thread(monkeypatch):
    threads = []
    execute = CursorWrapper._execute

    def recording_execute(self, *args):
        threads.append(threading.get_ident())
        return execute(self, *args)

    monkeypatch.setattr(CursorWrapper, "_execute", recording_execute)

    assert await Service.objects.acount() == 0
    assert threads
    assert threading.get_ident() not in threads


class ServiceListView(View):
    async def get(self, request):
        return HttpResponse("services")

    async def post(self, request):
        return HttpResponse("created")


class SyncServiceListView(View):
    def get(self, request):
        return HttpResponse("services")


class MixedServiceView(View):
    async def get(self, request):
        return HttpResponse("services")

    def post(self, request):
        return HttpResponse("created")


@pytest.mark.asyncio
async def test_view_with_async_handlers_is_async():
    assert ServiceListView.view_is_async is True
    assert SyncServiceListView.view_is_async is False
    view = ServiceListView.as_view()
    assert iscoroutinefunction(view)
    assert not iscoroutinefunction(SyncServiceListView.as_view())
    response = await view(AsyncRequestFactory().post("/services/"))
    assert response.content == b"created"


def test_view_rejects_mixed_sync_and_async_handlers():
    with pytest.raises(ImproperlyConfigured) as raised:
        MixedServiceView.as_view()
    assert str(raised.value) == (
        "MixedServiceView HTTP handlers must either be all sync or all async."
    )


# 4.2: async model methods, async streaming.


async def chunks(events):
    for part in ("up", "down"):
        events.append(part)
        yield part
    events.append("exhausted")


def test_streaming_response_consumes_async_iterators_to_serve_them_sync():
    events = []
    response = StreamingHttpResponse(chunks(events))
    assert response.is_async is True

    with pytest.warns(Warning, match="must consume asynchronous") as warned:
        first = next(iter(response))

    # The whole async iterator was read before the first chunk came out.
    assert first == b"up"
    assert events == ["up", "down", "exhausted"]
    assert str(warned[0].message) == (
        "StreamingHttpResponse must consume asynchronous iterators in order to "
        "serve them synchronously. Use a synchronous iterator instead."
    )


def postgresql_connection(alias: str, **options):
    """A PostgreSQL DatabaseWrapper that has not connected (and needs no server)."""
    handler = db.utils.ConnectionHandler(
        {
            "default": {"ENGINE": "django.db.backends.dummy"},
            alias: {
                "ENGINE": "django.db.backends.postgresql",
                "NAME": "board",
                "OPTIONS": options,
            },
        }
    )
    return handler[alias]


class Connected(Exception):
    """Raised by a fake connect(), once the test knows which one was called."""


def test_postgresql_backend_opens_sync_psycopg_3_connections(monkeypatch):
    psycopg = pytest.importorskip("psycopg")
    from django.db.backends.postgresql.psycopg_any import is_psycopg3

    assert is_psycopg3 is True
    assert inspect.isclass(psycopg.AsyncConnection)  # There is an async API...
    connection = postgresql_connection("history-psycopg")
    assert connection.Database is psycopg
    calls = []

    def connect(**params):
        calls.append(params["dbname"])
        raise Connected

    monkeypatch.setattr(psycopg, "connect", connect)
    with pytest.raises(Connected):
        connection.get_new_connection(connection.get_connection_params())
    assert calls == ["board"]  # ...and Django calls the sync connect().


# 5.0: signals, auth, disconnects, decorators.


@pytest.mark.asyncio
async def test_asend_adapts_sync_and_async_receivers():
    signal = Signal()
    calls = []

    def sync_receiver(sender, **kwargs):
        calls.append(("sync", threading.get_ident()))
        return "sync"

    async def async_receiver(sender, **kwargs):
        calls.append(("async", threading.get_ident()))
        return "async"

    signal.connect(sync_receiver, weak=False)
    signal.connect(async_receiver, weak=False)

    responses = await signal.asend(sender=None)

    assert [answer for _, answer in responses] == ["sync", "async"]
    threads = dict(calls)
    assert threads["async"] == threading.get_ident()
    assert threads["sync"] != threading.get_ident()


@pytest.mark.asyncio
async def test_auser_is_added_to_each_request_by_authentication_middleware():
    assert not hasattr(HttpRequest, "auser")
    request = RequestFactory().get("/")

    def get_response(request):
        return HttpResponse()

    SessionMiddleware(get_response).process_request(request)
    AuthenticationMiddleware(get_response).process_request(request)

    assert isinstance(await request.auser(), AnonymousUser)


@pytest.mark.asyncio
async def test_asgi_disconnect_cancels_the_view(own_urls):
    handler_events["started"] = asyncio.Event()
    communicator = ApplicationCommunicator(ASGIHandler(), http_scope("/history/slow/"))
    await communicator.send_input({"type": "http.request", "body": b""})
    await asyncio.wait_for(handler_events["started"].wait(), timeout=5)

    await communicator.send_input({"type": "http.disconnect"})
    await communicator.wait(timeout=5)

    assert handler_events["cancelled"] is True
    assert await communicator.receive_nothing()


async def secret_view(request):
    return HttpResponse("secret")


@pytest.mark.parametrize(
    "decorator",
    [
        pytest.param(never_cache, id="5.0-never_cache"),
        pytest.param(csrf_exempt, id="5.0-csrf_exempt"),
        pytest.param(require_GET, id="5.0-require_GET"),
        pytest.param(login_required, id="5.1-login_required"),
        pytest.param(permission_required("board.add_service"), id="5.1-permission"),
        pytest.param(user_passes_test(lambda user: True), id="5.1-user_passes_test"),
    ],
)
def test_decorators_keep_async_views_async(decorator):
    assert iscoroutinefunction(decorator(secret_view))


# 5.1: async auth decorators, PostgreSQL pools.


@pytest.mark.asyncio
async def test_login_required_awaits_request_auser():
    awaited = []

    async def anonymous():
        awaited.append(True)
        return AnonymousUser()

    request = AsyncRequestFactory().get("/secret/")
    request.auser = anonymous

    response = await login_required(secret_view)(request)

    assert awaited == [True]
    assert response.status_code == 302
    assert "next=/secret/" in response.url


def test_postgresql_pool_is_psycopgs_sync_connection_pool():
    psycopg_pool = pytest.importorskip("psycopg_pool")
    connection = postgresql_connection(
        "history-pool", pool={"min_size": 1, "max_size": 2}
    )
    try:
        pool = connection.pool  # Built closed: nothing connects.
        assert isinstance(pool, psycopg_pool.ConnectionPool)
        assert not isinstance(pool, psycopg_pool.AsyncConnectionPool)
    finally:
        connection.close_pool()


# 5.2: method_decorator and async handlers.


class FreshServiceView(View):
    @method_decorator(never_cache)
    async def get(self, request):
        return HttpResponse("fresh")


@pytest.mark.asyncio
async def test_method_decorator_keeps_async_handlers_async():
    assert iscoroutinefunction(FreshServiceView.get)
    assert FreshServiceView.view_is_async is True
    response = await FreshServiceView.as_view()(AsyncRequestFactory().get("/"))
    assert "no-cache" in response["Cache-Control"]


# 6.0: AsyncPaginator, async tasks.


@pytest.mark.needs_django(6, 0)
@pytest.mark.asyncio
async def test_async_paginator_pages_with_awaits():
    from django.core.paginator import AsyncPaginator

    paginator = AsyncPaginator(["email", "login", "payments", "search"], 3)

    assert await paginator.acount() == 4
    assert await paginator.anum_pages() == 2
    page = await paginator.apage(2)
    assert await page.aget_object_list() == ["search"]


@pytest.mark.needs_django(6, 0)
def test_async_page_refuses_len_and_indexing_before_the_list_is_awaited():
    from django.core.paginator import AsyncPage, AsyncPaginator

    services = Service.objects.order_by("slug")
    page = AsyncPage(services[:2], 1, AsyncPaginator(services, 2))

    with pytest.raises(TypeError) as raised:
        len(page)
    assert str(raised.value) == (
        "AsyncPage.aget_object_list() must be awaited before calling len()."
    )
    with pytest.raises(TypeError) as raised:
        page[0]
    assert str(raised.value) == (
        "AsyncPage.aget_object_list() must be awaited before using indexing."
    )


@pytest.mark.skipif(django.VERSION >= (6, 0), reason="AsyncPaginator is new in 6.0")
def test_there_is_no_async_paginator_before_6_0():
    from django.core import paginator

    assert not hasattr(paginator, "AsyncPaginator")


@pytest.mark.needs_django(6, 0)
def test_tasks_have_a_prefixed_variants():
    from django.tasks import Task, TaskResult

    assert iscoroutinefunction(Task.aenqueue)
    assert iscoroutinefunction(Task.aget_result)
    assert iscoroutinefunction(TaskResult.arefresh)


# 6.1: async receivers in a TaskGroup.


def failing_and_slow_receivers(events):
    signal = Signal()

    async def slow(sender, **kwargs):
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            events.append("slow receiver cancelled")
            raise

    async def failing(sender, **kwargs):
        raise LookupError("receiver failed")

    signal.connect(slow, weak=False)
    signal.connect(failing, weak=False)
    return signal


@pytest.mark.needs_django(6, 1)
@pytest.mark.asyncio
async def test_asend_cancels_the_other_async_receivers_when_one_fails():
    events = []
    signal = failing_and_slow_receivers(events)

    with pytest.raises(LookupError, match="receiver failed"):
        await signal.asend(sender=None)

    assert events == ["slow receiver cancelled"]


@pytest.mark.skipif(django.VERSION >= (6, 1), reason="Django 6.1 uses a TaskGroup")
@pytest.mark.asyncio
async def test_asend_leaves_the_other_async_receivers_running_before_6_1():
    events = []
    signal = failing_and_slow_receivers(events)

    with pytest.raises(LookupError, match="receiver failed"):
        await signal.asend(sender=None)
    await asyncio.sleep(0)

    assert events == []
    leftovers = asyncio.all_tasks() - {asyncio.current_task()}
    assert leftovers  # The slow receiver is still running, unawaited.
    for task in leftovers:
        task.cancel()
    await asyncio.gather(*leftovers, return_exceptions=True)


def ordering_receivers(events):
    signal = Signal()

    def sync_receiver(sender, **kwargs):
        time.sleep(0.2)
        events.append("sync receiver done")

    async def async_receiver(sender, **kwargs):
        events.append("async receiver started")

    signal.connect(sync_receiver, weak=False)
    signal.connect(async_receiver, weak=False)
    return signal


@pytest.mark.needs_django(6, 1)
@pytest.mark.asyncio
async def test_asend_finishes_sync_receivers_before_async_ones_start():
    events = []
    await ordering_receivers(events).asend(sender=None)
    assert events == ["sync receiver done", "async receiver started"]


@pytest.mark.skipif(django.VERSION >= (6, 1), reason="Django 6.1 runs them in turn")
@pytest.mark.asyncio
async def test_asend_runs_sync_and_async_receivers_together_before_6_1():
    events = []
    await ordering_receivers(events).asend(sender=None)
    assert events == ["async receiver started", "sync receiver done"]


# What DEP 0009 planned that did not ship.


def test_template_backends_have_no_async_render():
    for template_class in (django_backend.Template, jinja2_backend.Template):
        assert not hasattr(template_class, "render_async")
        assert not hasattr(template_class, "arender")
    assert not iscoroutinefunction(render)
    assert not iscoroutinefunction(render_to_string)


def test_jinja2_backend_does_not_enable_jinja2s_async_mode():
    pytest.importorskip("jinja2")
    backend = jinja2_backend.Jinja2(
        {"NAME": "jinja2", "DIRS": [], "APP_DIRS": False, "OPTIONS": {}}
    )
    assert backend.env.is_async is False


@pytest.mark.django_db
@pytest.mark.asyncio
async def test_rendering_a_lazy_queryset_from_async_code_raises():
    template = engines["django"].from_string(
        "{% for service in services %}{{ service.slug }} {% endfor %}"
    )
    services = Service.objects.order_by("slug")

    with pytest.raises(SynchronousOnlyOperation) as raised:
        template.render({"services": services})
    assert str(raised.value) == SAFETY_MESSAGE


@pytest.mark.asyncio
async def test_rendering_an_evaluated_list_from_async_code_works():
    template = engines["django"].from_string(
        "{% for service in services %}{{ service.slug }} {% endfor %}"
    )
    services = [Service(slug="email"), Service(slug="search")]
    assert template.render({"services": services}) == "email search "


@pytest.mark.asyncio
async def test_lazy_foreign_key_access_in_async_code_raises():
    incident = Incident(service_id=1, cause="timeout")
    with pytest.raises(SynchronousOnlyOperation) as raised:
        incident.service  # noqa: B018 - the attribute access is the query
    assert str(raised.value) == SAFETY_MESSAGE


def test_there_is_no_new_connections_context_manager():
    assert not hasattr(db, "new_connections")


def test_forms_have_no_async_api():
    for name in ("ais_valid", "afull_clean", "aclean"):
        assert not hasattr(forms.BaseForm, name)
    assert not hasattr(forms.BaseModelForm, "asave")


def test_mail_has_no_async_api():
    for name in ("send_mail_async", "asend_mail", "amail_admins"):
        assert not hasattr(mail, name)


@pytest.mark.asyncio
async def test_sync_to_async_is_thread_sensitive_by_default():
    first = await sync_to_async(threading.get_ident)()
    second = await sync_to_async(threading.get_ident)()
    assert first == second
    assert first != threading.get_ident()


# The sample project's ``.a`` namespace, compared.


def test_a_namespace_uses_the_caches_native_aget():
    assert async_namespace(cache).get == cache.aget
    assert iscoroutinefunction(cache.aget)


def test_a_namespace_uses_the_querysets_native_acount():
    services = Service.objects.all()
    assert async_namespace(services).count == services.acount


def test_manager_a_methods_are_not_coroutine_functions():
    # A manager copies each QuerySet method as a plain function that returns
    # what the QuerySet's method returns: for acount(), a coroutine.
    assert iscoroutinefunction(QuerySet.acount)
    assert not iscoroutinefunction(Service.objects.acount)
    coroutine = Service.objects.acount()
    assert inspect.iscoroutine(coroutine)
    coroutine.close()
    # functools.wraps records the QuerySet method it copies: the namespace
    # follows that record and uses the native acount(), not a thread wrapper.
    assert inspect.unwrap(Service.objects.acount) is QuerySet.acount
    wrapped = async_namespace(Service.objects).count
    assert type(wrapped).__name__ != "SyncToAsync"
    assert wrapped.__wrapped__ == Service.objects.acount


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_both_spellings_give_the_same_count():
    await Service.objects.acreate(name="Search", slug="search", url="https://s.test/")
    assert await async_namespace(Service.objects).count() == 1
    assert await Service.objects.acount() == 1


@pytest.mark.asyncio
async def test_a_namespace_runs_a_sync_only_method_in_a_thread(mailoutbox):
    assert not hasattr(IncidentNotifier, "asend")
    notifier = IncidentNotifier(["oncall@example.com"])
    threads = []
    message = notifier.message

    def recording_message(*args):
        threads.append(threading.get_ident())
        return message(*args)

    notifier.message = recording_message
    search = Service(pk=1, name="Search", slug="search", url="https://s.test/")

    wrapped = notifier.a.send
    assert type(wrapped).__name__ == "SyncToAsync"
    assert await wrapped([Change(1, 7, opened=True)], {1: search}) == 1

    assert mailoutbox[0].subject == "[status board] Search down"
    assert threads
    assert threading.get_ident() not in threads
