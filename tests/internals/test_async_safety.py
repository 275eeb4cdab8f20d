"""Claims of docs/internals/async-safety.md, proved against the installed Django."""

import asyncio
import importlib
import inspect
import pkgutil
import re
import threading
import time
import warnings
from pathlib import Path

import django
import django.core.cache.backends
import pytest
from asgiref.sync import SyncToAsync, sync_to_async
from django.contrib.auth import aauthenticate, alogin
from django.contrib.auth.backends import BaseBackend
from django.contrib.auth.hashers import MD5PasswordHasher
from django.contrib.auth.models import User
from django.contrib.sessions.backends.db import SessionStore
from django.core import checks
from django.core.cache import cache
from django.core.cache.backends import base as cache_base
from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.locmem import LocMemCache
from django.core.exceptions import SynchronousOnlyOperation
from django.core.handlers.asgi import ASGIHandler
from django.db import connection, connections
from django.db.models import query as query_module
from django.dispatch import Signal
from django.http import HttpResponse, StreamingHttpResponse
from django.template import engines
from django.test import AsyncRequestFactory
from django.urls import path
from django.utils.asyncio import async_unsafe

from sampleproject.board.demo import seed
from sampleproject.board.models import Service
from snippets.internals.async_safety import query_threads, slow_query, ticks_while
from tests.support.asgi import StreamingGet

DJANGO_DIR = Path(django.__file__).parent
MESSAGE = "You cannot call this from an async context - use a thread or sync_to_async."
URLS = "tests.internals.test_async_safety"


def enabled_slugs():
    """A plain sync helper, as an async view might call it."""
    return [service.slug for service in Service.objects.filter(enabled=True)]


def files_matching(pattern: str, under: Path) -> list[str]:
    """Django's source files under ``under`` with a line matching ``pattern``."""
    regex = re.compile(pattern, re.MULTILINE)
    return sorted(
        str(file.relative_to(DJANGO_DIR.parent))
        for file in under.rglob("*.py")
        if regex.search(file.read_text(encoding="utf-8"))
    )


# How the guard decides -----------------------------------------------------


@pytest.mark.asyncio
async def test_async_unsafe_raises_when_this_thread_runs_a_loop():
    @async_unsafe
    def touch_global_state():
        return "done"

    with pytest.raises(SynchronousOnlyOperation) as raised:
        touch_global_state()
    assert str(raised.value) == MESSAGE
    assert await sync_to_async(touch_global_state)() == "done"


def test_async_unsafe_passes_without_a_running_loop():
    @async_unsafe
    def touch_global_state():
        return "done"

    assert touch_global_state() == "done"


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_sync_helper_called_from_a_coroutine_raises():
    await sync_to_async(seed)()
    with pytest.raises(SynchronousOnlyOperation) as raised:
        enabled_slugs()
    assert str(raised.value) == MESSAGE


@pytest.mark.django_db(transaction=True)
def test_any_running_loop_in_the_calling_thread_counts():
    seed()

    async def count():
        return Service.objects.count()

    # A loop of your own, started in this thread: the guard cannot tell it from
    # a server's loop, and refuses.
    with pytest.raises(SynchronousOnlyOperation):
        asyncio.run(count())
    assert len(enabled_slugs()) == 4


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_thread_without_a_loop_may_query_while_the_loop_runs():
    await sync_to_async(seed)()

    def count_and_close():
        try:
            return Service.objects.count()
        finally:
            connection.close()

    # Any thread without a running loop passes, not only sync_to_async's.
    assert await asyncio.to_thread(count_and_close) == 4


def test_only_the_database_backends_use_the_guard():
    users = files_matching(r"^\s*@async_unsafe\b", DJANGO_DIR)
    assert users, "nothing in Django uses @async_unsafe any more"
    assert all(name.startswith("django/db/backends/") for name in users), users


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_building_a_queryset_is_allowed_evaluating_it_is_not():
    queryset = Service.objects.filter(enabled=True).order_by("slug")
    assert "ORDER BY" in str(queryset.query)
    with pytest.raises(SynchronousOnlyOperation):
        list(queryset)


@pytest.mark.asyncio
async def test_unguarded_sync_apis_do_not_raise():
    # The cache's sync API has no guard: in async code it runs on the loop's
    # thread and blocks it for as long as the backend takes.
    cache.set("board:version", 7)
    assert cache.get("board:version") == 7


# DJANGO_ALLOW_ASYNC_UNSAFE -------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("value", ["1", "true", "0", "false", "no"])
async def test_any_non_empty_value_turns_the_guard_off(monkeypatch, value):
    @async_unsafe
    def touch_global_state():
        return "done"

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", value)
    assert touch_global_state() == "done"
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "")
    with pytest.raises(SynchronousOnlyOperation):
        touch_global_state()


def test_the_deploy_checks_report_the_variable(monkeypatch):
    def errors():
        found = checks.run_checks(
            include_deployment_checks=True, tags=[checks.Tags.async_support]
        )
        return [error.id for error in found]

    monkeypatch.delenv("DJANGO_ALLOW_ASYNC_UNSAFE", raising=False)
    assert errors() == []
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    assert errors() == ["async.E001"]


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_an_unguarded_sync_query_blocks_the_event_loop(monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    try:
        started = time.perf_counter()
        ticks_on_loop = await ticks_while(slow_query)
        busy_for = time.perf_counter() - started
    finally:
        connection.close()  # This task's connection, opened on the loop's thread.
    ticks_in_thread = await ticks_while(sync_to_async(slow_query))
    # The query kept the database busy, and no other task ran meanwhile.
    assert busy_for > 0.005
    assert ticks_on_loop == 0
    # The same query in a worker thread leaves the loop free.
    assert ticks_in_thread > 0


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_unguarded_queries_on_the_loop_open_a_connection_per_task(monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

    async def count_services():
        await asyncio.sleep(0)
        Service.objects.count()
        return connections["default"]

    first, second = await asyncio.gather(count_services(), count_services())
    try:
        assert first is not second
        assert first.connection is not None
        assert second.connection is not None
        assert first._thread_ident == second._thread_ident == threading.get_ident()
    finally:
        first.close()
        second.close()


@pytest.mark.django_db(transaction=True)
def test_slow_query_returns_its_count():
    assert slow_query(1000) == 1000


# Native or wrapped ---------------------------------------------------------


ORM_CALLS = {
    "acount": lambda: Service.objects.acount(),
    "aexists": lambda: Service.objects.filter(slug="search").aexists(),
    "afirst": lambda: Service.objects.order_by("slug").afirst(),
    "aupdate": lambda: Service.objects.filter(slug="email").aupdate(enabled=True),
    "asave": lambda: Service(
        name="Status", slug="status", url="https://s.example/"
    ).asave(),
}


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("name", list(ORM_CALLS))
async def test_orm_async_methods_query_in_a_worker_thread(name):
    await sync_to_async(seed)()
    _, threads = await query_threads(ORM_CALLS[name])
    assert threads, f"{name} ran no SQL in the thread-sensitive worker"
    assert threading.get_ident() not in threads
    assert len(set(threads)) == 1


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_acount_is_count_in_a_worker_thread():
    await sync_to_async(seed)()
    count, threads = await query_threads(Service.objects.acount)
    assert count == 4
    assert threads
    assert threading.get_ident() not in threads
    source = inspect.getsource(query_module.QuerySet.acount)
    assert "sync_to_async(self.count)" in source


def count_hops(monkeypatch, module) -> list[str]:
    """Record each sync_to_async call that ``module`` makes."""
    hops: list[str] = []
    real = module.sync_to_async

    def counting(func, *args, **kwargs):
        hops.append(getattr(func, "__name__", None) or type(func).__name__)
        return real(func, *args, **kwargs)

    monkeypatch.setattr(module, "sync_to_async", counting)
    return hops


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_async_for_fetches_every_row_in_one_hop(monkeypatch):
    await sync_to_async(seed)()
    hops = count_hops(monkeypatch, query_module)
    queryset = Service.objects.order_by("slug")
    rows = queryset.__aiter__()
    first = await anext(rows)
    # The first row arrives after the whole result is in the queryset's cache.
    assert first.slug == "email"
    assert len(queryset._result_cache) == 4
    assert [service.slug async for service in rows] == ["login", "payments", "search"]
    assert hops == ["_fetch_all"]


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("chunk_size", "expected_hops"), [(2, 3), (3, 2), (2000, 1)])
async def test_aiterator_fetches_one_chunk_per_hop(
    monkeypatch, chunk_size, expected_hops
):
    await sync_to_async(seed)()
    hops = count_hops(monkeypatch, query_module)
    queryset = Service.objects.order_by("slug")
    slugs = [s.slug async for s in queryset.aiterator(chunk_size=chunk_size)]
    assert slugs == ["email", "login", "payments", "search"]
    assert hops == ["next_slice"] * expected_hops


def cache_backend_classes() -> list[type]:
    package = django.core.cache.backends
    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package.__name__}.{module.name}")

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    return [
        cls
        for cls in subclasses(BaseCache)
        if cls.__module__.startswith("django.core.cache.backends.")
    ]


def test_no_cache_backend_has_native_async_methods():
    backends = cache_backend_classes()
    names = {cls.__name__ for cls in backends}
    assert {"LocMemCache", "RedisCache", "DatabaseCache", "FileBasedCache"} <= names
    async_methods = [
        name
        for name, member in vars(BaseCache).items()
        if inspect.iscoroutinefunction(member)
    ]
    assert "aget" in async_methods
    for cls in backends:
        for name in async_methods:
            assert getattr(cls, name) is getattr(BaseCache, name), (cls, name)


class RecordingCache(LocMemCache):
    """A local-memory cache that notes the thread of each sync call."""

    calls: list[tuple[str, int]] = []

    def get(self, key, default=None, version=None):
        self.calls.append(("get", threading.get_ident()))
        return super().get(key, default, version)

    def get_many(self, keys, version=None):
        self.calls.append(("get_many", threading.get_ident()))
        return super().get_many(keys, version)


RECORDING_CACHE = {"default": {"BACKEND": f"{URLS}.RecordingCache"}}


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_cache_aget_runs_get_in_the_orm_worker_thread(settings):
    settings.CACHES = RECORDING_CACHE
    RecordingCache.calls = []
    await sync_to_async(seed)()
    assert await cache.aget("missing", "default") == "default"
    _, query_thread = await query_threads(Service.objects.acount)
    ((name, thread),) = RecordingCache.calls
    assert name == "get"
    assert thread != threading.get_ident()
    # Thread-sensitive: the same worker thread as the ORM's queries.
    assert [thread] == query_thread


@pytest.mark.asyncio
async def test_cache_aget_many_hops(settings, monkeypatch):
    settings.CACHES = RECORDING_CACHE
    hops = count_hops(monkeypatch, cache_base)
    assert await cache.aget_many(["a", "b", "c"]) == {}
    if django.VERSION >= (6, 1):
        # A backend's own get_many() now runs in a single hop.
        assert hops == ["get_many"]
    else:
        # One hop per key, through aget(), whatever the backend overrides.
        assert hops == ["get", "get", "get"]


@pytest.mark.asyncio
async def test_cache_aclose_runs_close(settings, monkeypatch):
    settings.CACHES = RECORDING_CACHE
    hops = count_hops(monkeypatch, cache_base)
    await cache.aclose()
    assert hops == (["close"] if django.VERSION >= (6, 1) else [])


@pytest.mark.asyncio
async def test_signal_asend_runs_sync_receivers_in_a_worker_thread():
    signal = Signal()
    events: list[tuple[str, int]] = []

    def sync_receiver(sender, **kwargs):
        events.append(("sync started", threading.get_ident()))
        time.sleep(0.2)
        events.append(("sync finished", threading.get_ident()))

    async def async_receiver(sender, **kwargs):
        events.append(("async", threading.get_ident()))

    signal.connect(async_receiver, weak=False)
    signal.connect(sync_receiver, weak=False)
    await signal.asend(sender=None)
    threads = dict(events)
    assert threads["async"] == threading.get_ident()
    assert threads["sync started"] != threading.get_ident()
    order = [name for name, _ in events]
    if django.VERSION >= (6, 1):
        # The sync batch finishes before the async receivers start.
        assert order == ["sync started", "sync finished", "async"]
    else:
        # gather(): async receivers run while the sync batch is in its thread.
        assert order.index("async") < order.index("sync finished")


class ThreadRecordingHasher(MD5PasswordHasher):
    """MD5, as the test settings use, noting which thread checks a password."""

    threads: list[int] = []

    def verify(self, password, encoded):
        self.threads.append(threading.get_ident())
        return super().verify(password, encoded)


async def authenticate_with_recording_hasher(settings):
    """(the thread that checked the password, the threads that ran SQL)"""
    settings.PASSWORD_HASHERS = [f"{URLS}.ThreadRecordingHasher"]
    await sync_to_async(User.objects.create_user)("ops", password="correct horse")
    ThreadRecordingHasher.threads = []
    user, query_thread = await query_threads(
        lambda: aauthenticate(username="ops", password="correct horse")
    )
    assert user is not None
    assert user.username == "ops"
    (thread,) = ThreadRecordingHasher.threads
    return thread, query_thread


@pytest.mark.needs_django(6, 0)
@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_aauthenticate_hashes_the_password_in_a_worker_thread(settings):
    thread, query_threads_ = await authenticate_with_recording_hasher(settings)
    assert thread != threading.get_ident()
    # Not the thread-sensitive worker either: a thread of the default executor.
    assert query_threads_
    assert thread not in query_threads_


@pytest.mark.skipif(django.VERSION >= (6, 0), reason="Django 5.2 behavior")
@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_aauthenticate_hashes_the_password_on_the_loop_before_6_0(settings):
    thread, _ = await authenticate_with_recording_hasher(settings)
    assert thread == threading.get_ident()


class SyncOnlyBackend(BaseBackend):
    """A backend with no aauthenticate() of its own."""

    threads: list[int] = []

    def authenticate(self, request, username=None, password=None):
        self.threads.append(threading.get_ident())
        return None


@pytest.mark.asyncio
async def test_a_backend_without_aauthenticate_runs_authenticate_in_a_thread(
    settings,
):
    settings.AUTHENTICATION_BACKENDS = [f"{URLS}.SyncOnlyBackend"]
    SyncOnlyBackend.threads = []
    assert await aauthenticate(username="ops", password="x") is None
    (thread,) = SyncOnlyBackend.threads
    assert thread != threading.get_ident()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_alogin_runs_its_sql_in_worker_threads():
    user = await sync_to_async(User.objects.create_user)("ops", password="x")
    request = AsyncRequestFactory().get("/")
    request.session = SessionStore()
    _, threads = await query_threads(lambda: alogin(request, user))
    assert threads
    assert threading.get_ident() not in threads
    await user.arefresh_from_db()
    assert user.last_login is not None
    assert await request.session.aget("_auth_user_id") == str(user.pk)


GATE: dict[str, asyncio.Event] = {}
# The sync iterator's parts, each with the thread that produced it, and the gate
# it waits at between them (a threading.Event: it is waited on in a thread).
PRODUCED: list[tuple[str, int]] = []
FIRST_MADE = threading.Event()
SYNC_GATE = threading.Event()


async def async_stream_view(request):
    async def parts():
        yield "first\n"
        await GATE["second"].wait()
        yield "second\n"

    return StreamingHttpResponse(parts())


def sync_stream_view(request):
    def parts():
        PRODUCED.append(("first\n", threading.get_ident()))
        FIRST_MADE.set()
        yield "first\n"
        # Bounded, so that a regression fails the test instead of hanging it.
        SYNC_GATE.wait(timeout=5)
        PRODUCED.append(("second\n", threading.get_ident()))
        yield "second\n"

    return StreamingHttpResponse(parts())


urlpatterns = [
    path("stream/async/", async_stream_view),
    path("stream/sync/", sync_stream_view),
]


@pytest.mark.urls(URLS)
@pytest.mark.asyncio
async def test_an_async_iterator_streams_on_the_loop_under_asgi():
    GATE["second"] = asyncio.Event()
    async with StreamingGet(ASGIHandler(), "/stream/async/") as response:
        # The first part reached the client while the iterator still waits.
        assert await response.read_until("first", limit=2) == "first\n"
        GATE["second"].set()
        assert await response.read_to_end() == "first\nsecond\n"


@pytest.mark.urls(URLS)
@pytest.mark.asyncio
async def test_a_sync_iterator_is_consumed_whole_before_sending_under_asgi():
    PRODUCED.clear()
    FIRST_MADE.clear()
    SYNC_GATE.clear()
    loop_thread = threading.get_ident()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        async with StreamingGet(ASGIHandler(), "/stream/sync/") as response:
            assert await asyncio.to_thread(FIRST_MADE.wait, 5)
            # The loop runs this test while the iterator waits at the gate, so
            # the iterator is in another thread; and the first part, made,
            # has not been sent.
            await asyncio.sleep(0.2)
            assert response.outgoing.empty()
            assert [part for part, _ in PRODUCED] == ["first\n"]
            SYNC_GATE.set()
            # Both parts arrive only once the second is made.
            assert await response.read_to_end() == "first\nsecond\n"
    assert [part for part, _ in PRODUCED] == ["first\n", "second\n"]
    (first_thread, second_thread) = (thread for _, thread in PRODUCED)
    assert first_thread == second_thread != loop_thread
    assert any("must consume synchronous iterators" in str(w.message) for w in caught)


def test_the_template_engine_has_no_async_code():
    template_dir = DJANGO_DIR / "template"
    for marker in (r"\basync def\b", r"\bsync_to_async\b", r"\basync_to_sync\b"):
        assert files_matching(marker, template_dir) == [], marker


@pytest.mark.asyncio
async def test_a_template_rendered_from_an_async_view_blocks_the_loop_without_a_hop(
    monkeypatch,
):
    hops = []
    original_call = SyncToAsync.__call__

    async def counting_call(self, *args, **kwargs):
        hops.append(self.func)
        return await original_call(self, *args, **kwargs)

    monkeypatch.setattr(SyncToAsync, "__call__", counting_call)
    rendered_in = []

    class Where:
        def __str__(self):
            rendered_in.append(threading.get_ident())
            return "here"

    template = engines["django"].from_string("{{ where }} {{ where }}")

    async def view(request):
        return HttpResponse(template.render({"where": Where()}, request))

    request = AsyncRequestFactory().get("/")
    ticks = await ticks_while(lambda: view(request))
    # Rendered in the loop's own thread, with no sync_to_async on the way, and
    # no other task ran meanwhile.
    assert rendered_in == [threading.get_ident()] * 2
    assert hops == []
    assert ticks == 0


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_lazy_queryset_in_a_template_raises_in_async_code():
    await sync_to_async(seed)()
    template = engines["django"].from_string(
        "{% for service in services %}{{ service.slug }} {% endfor %}"
    )
    with pytest.raises(SynchronousOnlyOperation):
        template.render({"services": Service.objects.order_by("slug")})
    services = [service async for service in Service.objects.order_by("slug")]
    assert template.render({"services": services}) == "email login payments search "
