"""Claims of docs/internals/bridges.md: where asgiref's two adapters run code.

Thread identities come from :func:`threading.get_ident`. Nothing here may hang:
every wait has its own timeout (barriers, ``future.result``, ``asyncio.timeout``),
and a watchdog fails any test, sync or async, that outlives ``WATCHDOG``.
The views and middleware at the bottom serve the ASGI tests
(``pytestmark`` makes this module the URLconf).
"""

import asyncio
import contextvars
import functools
import os
import re
import signal
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import asgiref
import django
import pytest
from asgiref.sync import (
    SyncToAsync,
    ThreadSensitiveContext,
    async_to_sync,
    sync_to_async,
)
from django.core import signals
from django.core.cache import caches
from django.core.handlers.asgi import ASGIHandler
from django.db import connections
from django.dispatch import Signal
from django.http import HttpResponse
from django.test import AsyncClient, SimpleTestCase, override_settings
from django.urls import path

from sampleproject.board.models import Service
from snippets.internals.bridges import (
    Stores,
    count_services,
    count_services_blocking,
    count_services_bridged,
)
from tests.support.asgi import StreamingGet

pytestmark = pytest.mark.urls(__name__)

TIMEOUT = 5  # seconds: any single wait in these tests
WATCHDOG = 30  # seconds: a whole test, set up and torn down
WOULD_DEADLOCK = "Single thread executor already being used, would deadlock"


@pytest.fixture(autouse=True)
def watchdog():
    """A hard timeout for every test: SIGALRM fails it, even mid-deadlock.

    The signal interrupts the main thread's blocking lock waits (a deadlocked
    ``future.result()``, ``thread.join()``, or an event loop blocked by sync
    code) and raises the failure there, so the run goes on.
    """
    if not hasattr(signal, "SIGALRM"):  # Not POSIX: rely on the waits' timeouts.
        yield
        return

    def expire(signum, frame):
        pytest.fail(f"watchdog: the test took longer than {WATCHDOG} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(WATCHDOG)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def within_timeout(test):
    """Fail an async test, rather than wait, when it takes longer than TIMEOUT."""

    @functools.wraps(test)
    async def wrapper(*args, **kwargs):
        async with asyncio.timeout(TIMEOUT):
            return await test(*args, **kwargs)

    return wrapper


def raises_exactly(exception, message):
    return pytest.raises(exception, match=f"^{re.escape(message)}$")


def process_wide_thread() -> int:
    """The ident of asgiref's one process-wide thread for thread-sensitive code."""
    return SyncToAsync.single_thread_executor.submit(threading.get_ident).result(
        timeout=TIMEOUT
    )


async def aprocess_wide_thread() -> int:
    """The same, from async code: waiting on ``result()`` would block the loop."""
    future = SyncToAsync.single_thread_executor.submit(threading.get_ident)
    async with asyncio.timeout(TIMEOUT):
        return await asyncio.wrap_future(future)


def default_pool_size() -> int:
    """What ThreadPoolExecutor() picks when not told: Python's own default."""
    count = getattr(os, "process_cpu_count", os.cpu_count)()  # 3.13+ / 3.11
    return min(32, (count or 1) + 4)


async def add_services(count: int = 4) -> None:
    await Service.objects.abulk_create(
        Service(name=f"Service {n}", slug=f"s{n}", url=f"https://s{n}.example/")
        for n in range(count)
    )


# The errors a reader can hit


@pytest.mark.asyncio
@within_timeout
async def test_async_to_sync_in_a_running_loop_raises():
    async def count():
        return 4

    with pytest.raises(RuntimeError) as caught:
        async_to_sync(count)()
    assert str(caught.value) == (
        "You cannot use AsyncToSync in the same thread as an async event loop - "
        "just await the async function directly."
    )


def test_sync_to_async_refuses_a_coroutine_function():
    async def count():
        return 4

    with raises_exactly(
        TypeError, "sync_to_async can only be applied to sync functions."
    ):
        sync_to_async(count)


def test_an_executor_needs_thread_sensitive_false():
    with ThreadPoolExecutor(max_workers=1) as executor:
        with raises_exactly(
            TypeError, "executor must not be set when thread_sensitive is True"
        ):
            sync_to_async(threading.get_ident, executor=executor)
        sync_to_async(threading.get_ident, thread_sensitive=False, executor=executor)


@pytest.mark.asyncio
@within_timeout
async def test_shared_context_raises_would_deadlock():
    release = threading.Event()

    def wait_for_release():
        assert release.wait(TIMEOUT)
        return threading.get_ident()

    async def call():
        return await sync_to_async(wait_for_release)()

    shared = contextvars.copy_context()
    first = asyncio.create_task(call(), context=shared)
    await asyncio.sleep(0)  # The first call is now in the process-wide thread.
    second = asyncio.create_task(call(), context=shared)
    with raises_exactly(RuntimeError, WOULD_DEADLOCK):
        await second
    release.set()
    assert await first == await aprocess_wide_thread()


@pytest.mark.asyncio
@within_timeout
async def test_two_calls_from_separate_contexts_queue_on_one_thread():
    async def call():
        return await sync_to_async(threading.get_ident)()

    # gather() wraps each call in a task with a context copy of its own.
    first, second = await asyncio.gather(call(), call())
    assert first == second == await aprocess_wide_thread()


def two_async_receivers():
    """A fresh signal whose two async receivers each make a thread-sensitive call."""
    signal = Signal()

    async def first(sender, **kwargs):
        return await sync_to_async(threading.get_ident)()

    async def second(sender, **kwargs):
        return await sync_to_async(threading.get_ident)()

    signal.connect(first, weak=False)
    signal.connect(second, weak=False)
    return signal


@pytest.mark.needs_django(6, 1)
@pytest.mark.asyncio
@within_timeout
async def test_asend_without_a_context_raises_would_deadlock():
    with raises_exactly(RuntimeError, WOULD_DEADLOCK):
        await two_async_receivers().asend(sender=None)


@pytest.mark.skipif(django.VERSION >= (6, 1), reason="Django 6.1 shares one context")
@pytest.mark.asyncio
@within_timeout
async def test_asend_on_django_52_works_without_a_context():
    responses = await two_async_receivers().asend(sender=None)
    assert [ident for _, ident in responses] == [await aprocess_wide_thread()] * 2


@pytest.mark.asyncio
@within_timeout
async def test_asend_inside_a_thread_sensitive_context_works():
    async with ThreadSensitiveContext():
        responses = await two_async_receivers().asend(sender=None)
    first, second = (ident for _, ident in responses)
    assert first == second != await aprocess_wide_thread()


@pytest.mark.asyncio
@within_timeout
async def test_blocking_outside_a_context_raises():
    loop = asyncio.get_running_loop()
    with raises_exactly(RuntimeError, WOULD_DEADLOCK):
        await sync_to_async(count_services_blocking)(loop, TIMEOUT)


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@within_timeout
async def test_blocking_in_a_context_deadlocks():
    await add_services()
    loop = asyncio.get_running_loop()
    async with ThreadSensitiveContext():
        with pytest.raises(TimeoutError):
            await sync_to_async(count_services_blocking)(loop, 0.5)
        # The count was queued behind the blocked thread: it runs once that
        # thread gives up waiting for it, too late for anyone to read.
        late = [
            task
            for task in asyncio.all_tasks()
            if task.get_coro().__name__ == count_services.__name__
        ]
        assert [await task for task in late] == [4]
        await sync_to_async(connections.close_all)()
    await sync_to_async(connections.close_all)()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@within_timeout
async def test_async_to_sync_from_a_thread_sensitive_thread_works():
    await add_services()
    assert await sync_to_async(count_services_bridged)() == 4
    async with ThreadSensitiveContext():
        assert await sync_to_async(count_services_bridged)() == 4
        await sync_to_async(connections.close_all)()
    await sync_to_async(connections.close_all)()


# Where thread-sensitive code runs


@pytest.mark.asyncio
@within_timeout
async def test_a_thread_sensitive_call_runs_off_the_loop_thread():
    assert await sync_to_async(threading.get_ident)() != threading.get_ident()


def test_no_context_means_the_process_wide_thread():
    async def where():
        return await sync_to_async(threading.get_ident)()

    # Two separate event loops, one after the other: the same thread.
    first, second = asyncio.run(where()), asyncio.run(where())
    assert first == second == process_wide_thread() != threading.get_ident()


@pytest.mark.asyncio
@within_timeout
async def test_a_thread_sensitive_context_has_a_thread_of_its_own():
    async with ThreadSensitiveContext():
        first = await sync_to_async(threading.get_ident)()
        second = await sync_to_async(threading.get_ident)()
    assert first == second != await aprocess_wide_thread()


@pytest.mark.asyncio
@within_timeout
async def test_two_contexts_at_once_use_two_threads():
    both_inside = threading.Barrier(2, timeout=TIMEOUT)

    def meet():
        both_inside.wait()  # Breaks, and fails, unless both run at once.
        return threading.get_ident()

    async def in_a_context():
        async with ThreadSensitiveContext():
            return await sync_to_async(meet)()

    first, second = await asyncio.gather(in_a_context(), in_a_context())
    assert first != second


@pytest.mark.asyncio
@within_timeout
async def test_a_nested_context_uses_the_outer_contexts_thread():
    async with ThreadSensitiveContext():
        outer = await sync_to_async(threading.get_ident)()
        async with ThreadSensitiveContext():
            inner = await sync_to_async(threading.get_ident)()
    assert inner == outer


@pytest.mark.asyncio
@within_timeout
async def test_a_contexts_thread_ends_when_the_context_exits():
    async with ThreadSensitiveContext():
        thread = await sync_to_async(threading.current_thread)()
        assert thread.is_alive()
    assert not thread.is_alive()


@pytest.mark.asyncio
@within_timeout
async def test_thread_sensitive_context_threads_are_not_capped():
    count = default_pool_size() + 2  # More than thread_sensitive=False could run.
    all_inside = threading.Barrier(count, timeout=TIMEOUT)

    def meet():
        all_inside.wait()
        return threading.get_ident()

    async def in_a_context():
        async with ThreadSensitiveContext():
            return await sync_to_async(meet)()

    idents = await asyncio.gather(*(in_a_context() for _ in range(count)))
    assert len(set(idents)) == count


def test_async_to_sync_runs_async_code_in_another_thread():
    async def where():
        return threading.get_ident()

    assert async_to_sync(where)() != threading.get_ident()


def test_sync_code_returns_to_the_async_to_sync_caller():
    async def where():
        loop_thread = threading.get_ident()
        sync_thread = await sync_to_async(threading.get_ident)()
        return loop_thread, sync_thread

    loop_thread, sync_thread = async_to_sync(where)()
    assert sync_thread == threading.get_ident() != loop_thread


def test_async_to_sync_caller_wins_over_a_context():
    async def where():
        async with ThreadSensitiveContext():
            return await sync_to_async(threading.get_ident)()

    assert async_to_sync(where)() == threading.get_ident()


def test_empty_context_task_finds_the_loops_caller():
    async def where():
        return await sync_to_async(threading.get_ident)()

    async def outer():
        # This task cannot see the caller's CurrentThreadExecutor in its
        # context; asgiref finds it from the loop async_to_sync started.
        return await asyncio.create_task(where(), context=contextvars.Context())

    assert async_to_sync(outer)() == threading.get_ident()


def test_async_to_sync_in_a_worker_uses_its_loop():
    async def where():
        return threading.get_ident()

    def sync_code():
        return async_to_sync(where)()

    async def main():
        return threading.get_ident(), await sync_to_async(sync_code)()

    loop_thread, async_thread = asyncio.run(main())
    assert async_thread == loop_thread


# thread_sensitive=False and the executors' sizes


@pytest.mark.asyncio
@within_timeout
async def test_not_sensitive_uses_the_default_executor():
    def name():
        return threading.current_thread().name

    sensitive = await sync_to_async(threading.get_ident)()
    other = await sync_to_async(threading.get_ident, thread_sensitive=False)()
    assert other not in (sensitive, threading.get_ident())
    assert (await sync_to_async(name, thread_sensitive=False)()).startswith("asyncio_")


@pytest.mark.asyncio
@within_timeout
async def test_not_sensitive_calls_run_at_the_same_time():
    both_inside = threading.Barrier(2, timeout=TIMEOUT)

    def meet():
        both_inside.wait()
        return threading.get_ident()

    first, second = await asyncio.gather(
        sync_to_async(meet, thread_sensitive=False)(),
        sync_to_async(meet, thread_sensitive=False)(),
    )
    assert first != second


@pytest.mark.asyncio
@within_timeout
async def test_not_sensitive_threads_are_pooled_not_closed():
    threads = []
    for _ in range(10):
        threads.append(
            await sync_to_async(threading.current_thread, thread_sensitive=False)()
        )
        await asyncio.sleep(0.01)  # Let the worker go idle.
    assert len(set(threads)) < len(threads)
    assert all(thread.is_alive() for thread in threads)


@pytest.mark.asyncio
@within_timeout
async def test_default_executor_size():
    size = default_pool_size()

    async def meet_in_groups_of(count: int, patience: float):
        group = threading.Barrier(count, timeout=patience)
        calls = (
            sync_to_async(group.wait, thread_sensitive=False)() for _ in range(count)
        )
        return await asyncio.gather(*calls, return_exceptions=True)

    results = await meet_in_groups_of(size, TIMEOUT)
    assert not any(isinstance(result, BaseException) for result in results)
    # One more than the pool size can never all be inside at once.
    results = await meet_in_groups_of(size + 1, 0.5)
    assert all(isinstance(result, threading.BrokenBarrierError) for result in results)


@pytest.mark.asyncio
@within_timeout
async def test_choosing_the_executor():
    loop = asyncio.get_running_loop()
    mine = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mine")
    try:
        name = await sync_to_async(
            lambda: threading.current_thread().name,
            thread_sensitive=False,
            executor=mine,
        )()
        assert name.startswith("mine")
    finally:
        # shutdown() joins the executor's thread: wait for it off the loop.
        await asyncio.to_thread(mine.shutdown)
    loop.set_default_executor(ThreadPoolExecutor(max_workers=1, thread_name_prefix="x"))
    name = await sync_to_async(
        lambda: threading.current_thread().name, thread_sensitive=False
    )()
    assert name.startswith("x_")


def test_asgi_threads_is_read_by_nothing_installed():
    for package in (asgiref, django):
        root = Path(package.__file__).parent
        readers = [
            str(source.relative_to(root.parent))
            for source in root.rglob("*.py")
            if "ASGI_THREADS" in source.read_text(encoding="utf-8")
        ]
        assert readers == []
    # And setting it changes nothing: two calls still run at once.
    program = (
        "import asyncio, threading\n"
        "from asgiref.sync import sync_to_async\n"
        "both = threading.Barrier(2, timeout=5)\n"
        "async def main():\n"
        "    call = sync_to_async(both.wait, thread_sensitive=False)\n"
        "    await asyncio.gather(call(), call())\n"
        "asyncio.run(main())\n"
        "print('ran together')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", program],
        env={**os.environ, "ASGI_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert result.stdout == "ran together\n"


# Which storage crosses a hop


def seen(value, *, thread_local=None, critical_local=None):
    """What Stores.read() returns when only the thread-bound stores differ."""
    return {
        "threading.local": thread_local,
        "ContextVar": value,
        "Local": value,
        "critical Local": critical_local,
    }


@pytest.mark.asyncio
@within_timeout
async def test_what_sync_to_async_code_sees_of_the_callers_values():
    stores = Stores()
    stores.write("async")
    assert await sync_to_async(stores.read)() == seen("async")
    unsafe = sync_to_async(stores.read, thread_sensitive=False)
    assert await unsafe() == seen("async")


@pytest.mark.asyncio
@within_timeout
async def test_what_comes_back_from_sync_to_async():
    stores = Stores()
    stores.write("async")
    await sync_to_async(stores.write)("sync")
    assert stores.read() == seen("sync", thread_local="async", critical_local="async")


def test_what_async_to_sync_code_sees_and_sends_back():
    stores = Stores()
    stores.write("sync")

    async def read_then_write():
        before = stores.read()
        stores.write("async")
        return before

    assert async_to_sync(read_then_write)() == seen("sync")
    assert stores.read() == seen("async", thread_local="sync", critical_local="sync")


def test_a_round_trip_back_to_the_same_thread_sees_everything():
    stores = Stores()
    stores.write("sync")

    async def round_trip():
        return await sync_to_async(stores.read)()

    assert async_to_sync(round_trip)() == seen(
        "sync", thread_local="sync", critical_local="sync"
    )


def test_django_connections_belong_to_their_thread():
    assert (connections.thread_critical, caches.thread_critical) == (True, False)
    mine = connections["default"]

    def current():
        return connections["default"]

    async def look():
        same = await sync_to_async(current)()
        other = await sync_to_async(current, thread_sensitive=False)()
        return same, other

    same, other = async_to_sync(look)()
    assert same is mine
    assert other is not mine


# Requests under Django's ASGIHandler

events: list[tuple[str, int]] = []
rendezvous = threading.Barrier(2, timeout=TIMEOUT)


def note(label):
    events.append((label, threading.get_ident()))


class NotingMiddleware:
    """Sync only, as old middleware is: Django adapts the chain around it."""

    sync_capable = True
    async_capable = False

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        note("middleware, before the view")
        response = self.get_response(request)
        note("middleware, after the view")
        return response


def noting_view(request):
    note("view")
    return HttpResponse("noted")


def meeting_view(request):
    rendezvous.wait()  # Both requests must be inside their views at once.
    return HttpResponse(str(threading.get_ident()))


async def context_view(request):
    active = SyncToAsync.thread_sensitive_context.get(None)
    return HttpResponse(type(active).__name__)


urlpatterns = [
    path("note/", noting_view),
    path("meet/", meeting_view),
    path("context/", context_view),
]


def note_signal(label, **kwargs):
    note(label)


@pytest.fixture
def noted(settings):
    """Sync middleware, request signals, and the list they all write to."""
    settings.MIDDLEWARE = [f"{__name__}.NotingMiddleware"]
    started = functools.partial(note_signal, "request_started receiver")
    finished = functools.partial(note_signal, "request_finished receiver")
    signals.request_started.connect(started, weak=False, dispatch_uid="bridges-s")
    signals.request_finished.connect(finished, weak=False, dispatch_uid="bridges-f")
    events.clear()
    yield events
    signals.request_started.disconnect(dispatch_uid="bridges-s")
    signals.request_finished.disconnect(dispatch_uid="bridges-f")


async def asgi_get(app, url):
    async with StreamingGet(app, url) as get:
        body = await get.read_to_end(TIMEOUT)
        return get.status, body


@pytest.mark.asyncio
@within_timeout
async def test_asgi_handler_enters_a_thread_sensitive_context(settings):
    settings.MIDDLEWARE = []
    assert await asgi_get(ASGIHandler(), "/context/") == (
        200,
        "ThreadSensitiveContext",
    )


@pytest.mark.asyncio
@within_timeout
async def test_two_asgi_requests_at_once_use_two_threads(settings):
    settings.MIDDLEWARE = []
    rendezvous.reset()
    app = ASGIHandler()
    (status1, thread1), (status2, thread2) = await asyncio.gather(
        asgi_get(app, "/meet/"), asgi_get(app, "/meet/")
    )
    assert status1 == status2 == 200
    assert len({thread1, thread2, str(threading.get_ident())}) == 3


@pytest.mark.asyncio
@within_timeout
async def test_one_asgi_request_has_one_sync_thread(noted):
    assert await asgi_get(ASGIHandler(), "/note/") == (200, "noted")
    assert [label for label, _ in noted] == [
        "request_started receiver",
        "middleware, before the view",
        "view",
        "middleware, after the view",
        "request_finished receiver",
    ]
    threads = {ident for _, ident in noted}
    assert len(threads) == 1
    assert threads.isdisjoint({threading.get_ident(), await aprocess_wide_thread()})


@pytest.mark.asyncio
@within_timeout
async def test_async_client_enters_no_thread_sensitive_context(settings):
    settings.MIDDLEWARE = []
    response = await AsyncClient().get("/context/")
    assert response.content == b"NoneType"


@pytest.mark.asyncio
@within_timeout
async def test_async_client_uses_the_process_wide_thread(noted):
    client = AsyncClient()
    await asyncio.gather(client.get("/note/"), client.get("/note/"))
    views = [ident for label, ident in noted if label == "view"]
    assert views == [await aprocess_wide_thread()] * 2


@override_settings(ROOT_URLCONF=__name__, MIDDLEWARE=[])
class AsyncClientInADjangoTestCase(SimpleTestCase):
    """Django's own test classes run an async test method through async_to_sync."""

    def setUp(self):
        self.test_thread = threading.get_ident()
        events.clear()

    async def test_sync_views_run_in_the_tests_own_thread(self):
        # This coroutine runs on a loop in another thread, while the test's
        # thread waits in a CurrentThreadExecutor: thread-sensitive calls go
        # there, ahead of the process-wide thread.
        assert threading.get_ident() != self.test_thread
        client = AsyncClient()
        await asyncio.gather(client.get("/note/"), client.get("/note/"))
        views = [ident for label, ident in events if label == "view"]
        assert views == [self.test_thread] * 2
        assert self.test_thread != await aprocess_wide_thread()


@pytest.fixture
def thread_starts(monkeypatch) -> list[str]:
    """The names of the threads started while the test runs, in order."""
    started: list[str] = []
    original = threading.Thread.start

    def counting_start(thread):
        started.append(thread.name)
        return original(thread)

    monkeypatch.setattr(threading.Thread, "start", counting_start)
    return started


@pytest.mark.asyncio
async def test_a_context_starts_its_worker_and_one_more_thread_to_leave(
    thread_starts,
):
    started = thread_starts
    async with ThreadSensitiveContext():
        await sync_to_async(threading.get_ident)()
        during = len(started)
    # asgiref 3.13 shuts the context's executor down from a thread of its own.
    assert (asgiref.__version__, during, len(started)) == ("3.13.0", 1, 2)


@pytest.mark.asyncio
async def test_a_context_without_thread_sensitive_calls_starts_no_thread(
    thread_starts,
):
    started = thread_starts
    # No thread-sensitive call: no executor is made, none to shut down on exit.
    async with ThreadSensitiveContext():
        await asyncio.sleep(0)
    assert started == []


@pytest.mark.asyncio
async def test_an_async_view_under_asgi_handler_still_starts_two_threads(
    thread_starts, settings
):
    settings.MIDDLEWARE = []
    handler = ASGIHandler()
    started = thread_starts
    # request_started's sync receivers (close_old_connections) and closing the
    # response are thread-sensitive calls: the context makes its worker, and
    # one more thread to join it.
    assert await asgi_get(handler, "/context/") == (200, "ThreadSensitiveContext")
    assert len(started) == 2
