"""The attribution suite's worker: totals, cores, parts and counts, interleaved.

``python -m bench.attribution_worker --values K --value-seconds S`` measures,
in this one process, everything :mod:`bench.attribution` needs and prints it
as one JSON line:

- the **total** of each request path (handler x view x middleware list), as
  the ``request-paths`` cases drive it (:mod:`bench.portable`'s drivers);
- its **core**: the same requests with every bridge made a direct call
  (:func:`bridges_inlined`) and, under ASGI, no ``ThreadSensitiveContext``
  (:class:`~snippets.performance.streams.StreamingASGIHandler`), so no hop,
  no thread;
- for a path with bridges, the core **switched**: each bridge a direct call
  that also crosses to another thread and back with a function that does
  nothing, so that the handler's code runs between real thread switches, as
  in the path, but with no per-request thread;
- the two **removals** the causal check compares with the breakdown: the
  async view under ASGI without the per-request context, and behind
  async-native versions of startproject's middleware;
- the **micro cases**, each one part on its own: the views, one hop, one
  context with its thread, the join thread, one ``async_to_sync`` from a
  thread with no loop, one task. The two thread starts are measured with a
  request's worth of handler code beside them (the core of the async view
  under ASGI), as in a request;
- the **counts** per request: hops of each kind (the hop counter the pages
  show), threads started by kind, tasks created.

Each measurement is warmed up and calibrated once, then the values are taken
in rounds, one value of every measurement per round, so that a slow spell of a
loaded machine spreads over all of them instead of skewing one. Each value is
recorded twice, in microseconds per run: on the wall clock (``values_us``)
and in the process's CPU time (``cpu_us``). ``--only NAME ...`` measures
only the measurements named (``total/asgi-async-none``, ``micro/hop``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import threading
import time
from collections import Counter
from concurrent.futures import Future
from contextlib import contextmanager

from bench.portable import (
    asgi_runner,
    calibrate,
    positive_float,
    settle,
    wsgi_runner,
)

# The request paths: (handler, view); each with no middleware and with
# startproject's seven.
PATHS = {
    "wsgi-sync": ("wsgi", "sync"),
    "wsgi-async": ("wsgi", "async"),
    "asgi-sync": ("asgi", "sync"),
    "asgi-async": ("asgi", "async"),
}
MIDDLEWARE = ("none", "startproject")
MICROS = (
    "view-sync",
    "view-async",
    "hop",
    "hop-then-request",
    "new-context",
    "join-thread",
    "async-to-sync",
    "task",
)
# The paths whose core is also measured switched: those with a bridge.
SWITCHED = (
    "wsgi-async-none",
    "wsgi-async-startproject",
    "asgi-sync-none",
    "asgi-sync-startproject",
    "asgi-async-none",
    "asgi-async-startproject",
)
REMOVALS = ("asgi-async-none-no-context", "asgi-async-startproject-async-native")
# Additions between two hops of the hop micro case: a few microseconds.
SPACING = 100
# Requests counted after the timing, per path.
COUNTED_REQUESTS = 20


def setup_django() -> None:
    # startproject's list needs the contrib apps installed; each handler then
    # loads the list it is given (handler_with()).
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    os.environ["BENCH_MIDDLEWARE"] = "startproject:7"
    import django

    django.setup()


def middleware_list(name: str) -> list[str]:
    from bench.settings import MIDDLEWARE_LISTS

    return [] if name == "none" else MIDDLEWARE_LISTS[name]()


def handler_with(cls, middleware: str):
    """A handler of ``cls`` that loaded the ``middleware`` list."""
    from django.test import override_settings

    with override_settings(MIDDLEWARE=middleware_list(middleware)):
        return cls()


# The bridges made direct calls: what the core measures.


def run_without_suspending(awaitable):
    """Run a coroutine that never waits to its end, with no event loop."""
    coroutine = awaitable.__await__()
    try:
        coroutine.send(None)
    except StopIteration as finished:
        return finished.value
    coroutine.close()
    raise RuntimeError(
        "an inlined async_to_sync ran code that waits: only a view that never"
        " awaits can be measured without the bridge"
    )


@contextmanager
def bridges_inlined(switch: bool = False):
    """``sync_to_async`` calls its function in the event loop's thread and
    ``async_to_sync`` runs its coroutine in the caller's: no hop, no thread.

    With ``switch``, each bridge first crosses for real with a function that
    does nothing (a hop to asgiref's shared thread; a new thread and event
    loop), then calls its own function directly.
    """
    from asgiref.sync import AsyncToSync, SyncToAsync

    original_s2a, original_a2s = SyncToAsync.__call__, AsyncToSync.__call__
    hop, cross = SyncToAsync(noop), AsyncToSync(anoop)

    async def direct_s2a(self, *args, **kwargs):
        if switch:
            await original_s2a(hop)
        return self.func(*args, **kwargs)

    def direct_a2s(self, *args, **kwargs):
        if switch:
            original_a2s(cross)
        return run_without_suspending(self.awaitable(*args, **kwargs))

    SyncToAsync.__call__, AsyncToSync.__call__ = direct_s2a, direct_a2s
    try:
        yield
    finally:
        SyncToAsync.__call__, AsyncToSync.__call__ = original_s2a, original_a2s


# Request drivers that take the handler to call.


def asgi_driver(handler, path: str):
    """:func:`bench.portable.asgi_runner`, with ``handler`` swapped in."""
    from django.core.handlers import asgi

    return _swapped(asgi, "ASGIHandler", handler, asgi_runner, path)


def wsgi_driver(handler, path: str):
    """:func:`bench.portable.wsgi_runner`, with ``handler`` swapped in."""
    from django.core.handlers import wsgi

    return _swapped(wsgi, "WSGIHandler", handler, wsgi_runner, path)


def _swapped(module, name: str, handler, runner, path: str):
    # The runners build their handler from the module's class when called.
    original = getattr(module, name)
    setattr(module, name, lambda: handler)
    try:
        return runner(path)
    finally:
        setattr(module, name, original)


class Timed:
    """One measurement: a driver, run as sync or async, maybe in a patch.

    A driver that ``times_itself`` returns its own clocks (:func:`since`), to
    leave its set-up out.
    """

    def __init__(self, run, is_async: bool, patch=None, seen=None, times_itself=False):
        self.run, self.is_async, self.patch = run, is_async, patch
        self.seen, self.times_itself = seen, times_itself
        self.loops = 1

    def time(self, loop, n: int) -> tuple[int, int]:
        """Wall and CPU nanoseconds for ``n`` runs (see :func:`clocks`)."""
        if self.times_itself:
            return loop.run_until_complete(self.run(n))
        with self.patch() if self.patch else _nothing():
            started = clocks()
            if self.is_async:
                loop.run_until_complete(self.run(n))
            else:
                self.run(n)
            return since(started)


def clocks() -> tuple[int, int]:
    """The wall clock, and the CPU time of all of this process's threads.

    Wall time is what a request takes. CPU time leaves out the waits for a
    core, which on a shared machine swamp the cost of starting a thread or
    handing work to one; the causal checks compare both.
    """
    return time.perf_counter_ns(), time.process_time_ns()


def since(started: tuple[int, int]) -> tuple[int, int]:
    wall, cpu = clocks()
    return wall - started[0], cpu - started[1]


@contextmanager
def _nothing():
    yield


def path_measurements() -> dict[str, Timed]:
    from django.core.handlers.asgi import ASGIHandler
    from django.core.handlers.wsgi import WSGIHandler

    from snippets.performance.streams import StreamingASGIHandler

    found = {}
    for name, (handler, view) in PATHS.items():
        url = f"/trivial/{view}/"
        for middleware in MIDDLEWARE:
            key = f"{name}-{middleware}"
            if handler == "wsgi":
                run, seen = wsgi_driver(handler_with(WSGIHandler, middleware), url)
                found[f"total/{key}"] = Timed(run, False, seen=seen)
                core = Timed(run, False, bridges_inlined, seen)
            else:
                run, seen = asgi_driver(handler_with(ASGIHandler, middleware), url)
                found[f"total/{key}"] = Timed(run, True, seen=seen)
                core = handler_with(StreamingASGIHandler, middleware)
                run, seen = asgi_driver(core, url)
                core = Timed(run, True, bridges_inlined, seen)
            found[f"core/{key}"] = core
            if key in SWITCHED:
                found[f"switched/{key}"] = switched(core)
    run, seen = asgi_driver(
        handler_with(StreamingASGIHandler, "none"), "/trivial/async/"
    )
    found[f"removal/{REMOVALS[0]}"] = Timed(run, True, seen=seen)
    native = handler_with(ASGIHandler, "async-native")
    run, seen = asgi_driver(native, "/trivial/async/")
    found[f"removal/{REMOVALS[1]}"] = Timed(run, True, seen=seen)
    # Their own work, as the core measures startproject's.
    native = handler_with(StreamingASGIHandler, "async-native")
    run, seen = asgi_driver(native, "/trivial/async/")
    core = Timed(run, True, bridges_inlined, seen)
    found[f"core/{REMOVALS[1]}"] = core
    found[f"switched/{REMOVALS[1]}"] = switched(core)
    return found


def switched(core: Timed) -> Timed:
    """The same core, each bridge crossing with a no-op first."""
    return Timed(core.run, core.is_async, lambda: bridges_inlined(switch=True))


# The parts on their own.


def noop():
    return None


async def anoop():
    return None


def spacing() -> int:
    """A couple of microseconds of work on the event loop's thread."""
    total = 0
    for number in range(SPACING):
        total += number
    return total


def a_request():
    from django.core.handlers.wsgi import WSGIRequest
    from django.test import RequestFactory

    environ = RequestFactory().get("/trivial/sync/").environ
    return WSGIRequest(environ)


def micro_measurements() -> dict[str, Timed]:
    from asgiref.sync import (
        SyncToAsync,
        ThreadSensitiveContext,
        async_to_sync,
        sync_to_async,
    )

    from bench import views
    from snippets.performance.streams import StreamingASGIHandler

    request = a_request()
    # A request's worth of handler code with no hop and no thread (the core
    # of the async view under ASGI), for the thread starts to sit beside.
    core, _ = asgi_driver(handler_with(StreamingASGIHandler, "none"), "/trivial/async/")
    # A real hop, even where bridges_inlined() has replaced __call__.
    real_hop = SyncToAsync.__call__

    def view_sync(n):
        for _ in range(n):
            views.trivial_sync(request)

    async def view_async(n):
        for _ in range(n):
            await views.trivial_async(request)

    hop = sync_to_async(noop, thread_sensitive=True)

    async def hops(n):
        # One context for all: its thread runs already, as in a request after
        # the first hop. In a request, other code runs between two hops, and
        # the thread has gone back to sleep when the next one comes: a hop
        # straight after a hop can find it still awake, and cost half. So
        # each hop here follows a little work, whose time alone is subtracted.
        async with ThreadSensitiveContext():
            await hop()
            started = clocks()
            for _ in range(n):
                spacing()
                await hop()
            spaced = since(started)
            started = clocks()
            for _ in range(n):
                spacing()
            alone = since(started)
            return spaced[0] - alone[0], spaced[1] - alone[1]

    # The thread starts with handler code beside them, as in a request, where
    # the loop thread runs Django's code while the new thread starts and the
    # join thread ends. Measured alone, in a tight loop, they predicted a
    # third to a half less than removing the context saved. So each of these
    # runs one core request per context, and the request alone is
    # subtracted: new-context less hop-then-request is the context's two
    # threads.

    async def hops_then_requests(n):
        async with ThreadSensitiveContext():
            await hop()
            with bridges_inlined():
                for _ in range(n):
                    await real_hop(hop)
                    await core(1)

    async def new_contexts(n):
        with bridges_inlined():
            for _ in range(n):
                async with ThreadSensitiveContext():
                    await real_hop(hop)
                    await core(1)

    async def join_threads(n):
        # What ThreadSensitiveContext.__aexit__ does around executor.shutdown(),
        # after a request's code.
        with bridges_inlined():
            for _ in range(n):
                await core(1)
                future: Future = Future()
                threading.Thread(
                    target=future.set_result, args=(None,), daemon=True
                ).start()
                await asyncio.wrap_future(future)

    call = async_to_sync(anoop)

    def async_to_syncs(n):
        for _ in range(n):
            call()

    async def tasks(n):
        loop = asyncio.get_running_loop()
        for _ in range(n):
            await loop.create_task(anoop())

    return {
        "micro/view-sync": Timed(view_sync, False),
        "micro/view-async": Timed(view_async, True),
        "micro/hop": Timed(hops, True, times_itself=True),
        "micro/hop-then-request": Timed(hops_then_requests, True),
        "micro/new-context": Timed(new_contexts, True),
        "micro/join-thread": Timed(join_threads, True),
        "micro/async-to-sync": Timed(async_to_syncs, False),
        "micro/task": Timed(tasks, True),
    }


# Counting.


class Counts:
    """Threads started by kind, and tasks created, while active."""

    def __init__(self, loop):
        self.loop = loop
        self.counts = Counter(executor_threads=0, other_threads=0, tasks=0)

    def __enter__(self):
        counts, start = self.counts, threading.Thread.start
        self.original_start = start

        def counted_start(thread, *args, **kwargs):
            # asgiref's executors are ThreadPoolExecutors: their threads are
            # named ThreadPoolExecutor-N_M. The join thread is a plain Thread.
            pool = thread.name.startswith("ThreadPoolExecutor")
            counts["executor_threads" if pool else "other_threads"] += 1
            return start(thread, *args, **kwargs)

        threading.Thread.start = counted_start
        self.original_factory = self.loop.get_task_factory()

        def factory(loop, coro, **kwargs):
            counts["tasks"] += 1
            return asyncio.Task(coro, loop=loop, **kwargs)

        self.loop.set_task_factory(factory)
        return self.counts

    def __exit__(self, *exc):
        threading.Thread.start = self.original_start
        self.loop.set_task_factory(self.original_factory)


def count_path(timed: Timed, loop) -> dict:
    from snippets.internals.hops import count_hops

    async def counted():
        # Counting starts inside the loop, so that the task run_until_complete
        # wraps this coroutine in is not counted as the requests'.
        with Counts(loop) as counts, count_hops() as hops:
            await timed.run(COUNTED_REQUESTS)
        return counts, hops

    if timed.is_async:
        counts, hops = loop.run_until_complete(counted())
    else:
        with Counts(loop) as counts, count_hops() as hops:
            timed.run(COUNTED_REQUESTS)
    merged = {**hops, **counts}
    return {key: value / COUNTED_REQUESTS for key, value in merged.items()}


def check_response(name: str, timed: Timed) -> None:
    """Refuse to time a path that fails: a 500 is fast and means nothing."""
    seen = timed.seen
    if seen is not None and (not seen or str(seen[0]) != "200"):
        raise RuntimeError(f"{name} answered {seen[:1] or 'nothing'}, not 200")


def measure(values: int, value_seconds: float, warmup_seconds: float, only=()) -> dict:
    setup_django()
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    measurements = {**path_measurements(), **micro_measurements()}
    if only:
        unknown = sorted(set(only) - set(measurements))
        if unknown:
            known = ", ".join(measurements)
            raise LookupError(f"unknown measurement {unknown[0]!r}: use {known}")
        measurements = {name: measurements[name] for name in only}
    settle()
    for name, timed in measurements.items():
        timed.time(loop, 1)
        check_response(name, timed)
        # Warm up, doubling the batch, then size a value to value_seconds.
        batch, done, spent = 1, 0, 0
        while spent < warmup_seconds * 1e9:
            spent += timed.time(loop, batch)[0]
            done += batch
            batch *= 2
        timed.loops = calibrate(spent, done, value_seconds)
    wall: dict[str, list[float]] = {name: [] for name in measurements}
    cpu: dict[str, list[float]] = {name: [] for name in measurements}
    for _ in range(values):
        for name, timed in measurements.items():
            elapsed = timed.time(loop, timed.loops)
            wall[name].append(elapsed[0] / timed.loops / 1000)
            cpu[name].append(elapsed[1] / timed.loops / 1000)
    counts = {
        name.partition("/")[2]: count_path(timed, loop)
        for name, timed in measurements.items()
        if name.startswith(("total/", "removal/"))
    }
    loop.close()
    import django

    return {
        "pid": os.getpid(),
        "django": django.get_version(),
        "loops": {name: timed.loops for name, timed in measurements.items()},
        "values_us": wall,
        "cpu_us": cpu,
        "counts": counts,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.attribution_worker")
    parser.add_argument("--values", type=int, default=3)
    parser.add_argument("--value-seconds", type=positive_float, default=0.01)
    parser.add_argument("--warmup-seconds", type=positive_float, default=0.02)
    parser.add_argument(
        "--only",
        nargs="+",
        default=(),
        metavar="NAME",
        help="measure only these, in this order (total/asgi-async-none, micro/hop)",
    )
    args = parser.parse_args(argv)
    if args.values < 1:
        parser.error("--values must be at least 1")
    try:
        record = measure(
            args.values, args.value_seconds, args.warmup_seconds, args.only
        )
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        print(f"attribution: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(record))
    return 0


if __name__ == "__main__":
    sys.exit(main())
