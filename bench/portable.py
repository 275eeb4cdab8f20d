"""Request drivers and timing loops that run on any Django from 2.2 and Python 3.8.

Standard library only, and no import from the rest of ``bench`` or from the
sample project, so that this one file can run in the virtual environments of
old Django releases. :mod:`bench.worker` imports its drivers from here; the
versions and asgiref suites (:mod:`bench.versions`) run it as a script::

    python bench/portable.py --paths wsgi-sync asgi-async --bridges async-to-sync \\
        --values K --value-seconds S --warmup-seconds W [--count-threads N]

As a script it configures a minimal Django itself (no apps, no middleware, a
trivial sync and a trivial async view), measures each path and bridge named,
one after the other in this process, and prints one JSON line: the versions it
ran on, and for each path ``loops`` and ``values_us`` and, with
``--count-threads N``, the threads that N more requests started.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import io
import json
import os
import platform
import sys
import threading
import time

# What a path needs from Django: (first version with it, handler, view).
PATHS = {
    "wsgi-sync": ((2, 2), "wsgi", "sync"),
    "asgi-sync": ((3, 0), "asgi", "sync"),
    "wsgi-async": ((3, 1), "wsgi", "async"),
    "asgi-async": ((3, 1), "asgi", "async"),
}
BRIDGES = (
    "sync-to-async-sensitive",
    "sync-to-async-sensitive-new-context",
    "sync-to-async-insensitive",
    "async-to-sync",
)
BODY = b"ok"


# Request drivers: hand-made WSGI environs and ASGI scopes, no test client.


def wsgi_runner(path):
    from django.core.handlers.wsgi import WSGIHandler

    handler = WSGIHandler()
    base = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "localhost",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    seen = []

    def start_response(status, headers, exc_info=None):
        if not seen:
            seen.append(status.split()[0])

    def run(n):
        for _ in range(n):
            environ = dict(base)
            environ["wsgi.input"] = io.BytesIO(b"")
            response = handler(environ, start_response)
            for chunk in response:
                if not seen[1:]:
                    seen.append(chunk)
            response.close()

    return run, seen


class Receive:
    """An ASGI receive: the (empty) body once, then wait until cancelled."""

    __slots__ = ("done",)

    def __init__(self):
        self.done = False

    async def __call__(self):
        if not self.done:
            self.done = True
            return {"type": "http.request", "body": b"", "more_body": False}
        # ASGIHandler listens for a disconnect while the view runs, and cancels
        # the listener when the response has been sent.
        await asyncio.get_running_loop().create_future()


def asgi_runner(path):
    from django.core.handlers.asgi import ASGIHandler

    handler = ASGIHandler()
    base = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"localhost")],
        "client": ("127.0.0.1", 50000),
        "server": ("localhost", 80),
    }
    seen = []

    async def send(message):
        if len(seen) < 2:
            seen.append(message.get("status") or message.get("body"))

    async def run(n):
        for _ in range(n):
            await handler(dict(base), Receive(), send)

    return run, seen


def bridge_runner(name):
    from asgiref.sync import async_to_sync, sync_to_async

    def noop():
        return None

    async def anoop():
        return None

    if name == "async-to-sync":
        call = async_to_sync(anoop)

        def run(n):
            for _ in range(n):
                call()

        return run

    if name == "sync-to-async-sensitive-new-context":
        from asgiref.sync import ThreadSensitiveContext

        hop = sync_to_async(noop, thread_sensitive=True)

        async def run(n):
            for _ in range(n):
                async with ThreadSensitiveContext():
                    await hop()

        return run

    sensitive = name == "sync-to-async-sensitive"
    hop = sync_to_async(noop, thread_sensitive=sensitive)

    async def run(n):
        for _ in range(n):
            await hop()

    return run


# Measurement.


def calibrate(elapsed_ns, requests, value_seconds):
    """Requests per value so that one value takes about ``value_seconds``."""
    per_request = elapsed_ns / requests / 1e9
    return max(1, round(value_seconds / per_request))


def settle():
    """Collect, then freeze what is left, before a case is timed.

    A full collection walks every object the process holds. With Django set
    up that took about 30 ms here, and whichever value of the attribution
    suite (28 ms each) it fell in ran about twice as slow as the others
    (their median CV went from 15 % to 2 %). Frozen objects are left out of
    every later collection (``gc.freeze``, Python 3.7+), so a collection walks what the
    case itself allocates, and its cost stays in the values that cause it.
    """
    gc.collect()
    gc.freeze()


def schedule(values, value_seconds, warmup_seconds):
    """The batches to time: warm-up batches, then ``values`` equal ones.

    A generator: it yields a number of requests to make and is sent back the
    nanoseconds they took; it returns ``(warm-up requests, loops, values)``
    with each value in microseconds per request. The warm-up doubles its batch
    until it has run ``warmup_seconds``, and its speed sets ``loops``.
    """
    settle()
    batch, done, spent = 1, 0, 0
    while spent < warmup_seconds * 1e9 or done == 0:
        spent += yield batch
        done += batch
        batch *= 2
    loops = calibrate(spent, done, value_seconds)
    results = []
    for _ in range(values):
        elapsed = yield loops
        results.append(elapsed / loops / 1000)
    return done, loops, results


def measure_sync(run, values, value_seconds, warmup_seconds, shares=None):
    """Time ``run`` as :func:`schedule` says; see :func:`core_share` for ``shares``."""
    plan = schedule(values, value_seconds, warmup_seconds)
    requests, seen = next(plan), []
    while True:
        cpu, started = time.process_time_ns(), time.perf_counter_ns()
        run(requests)
        elapsed = time.perf_counter_ns() - started
        seen.append((time.process_time_ns() - cpu, elapsed))
        try:
            requests = plan.send(elapsed)
        except StopIteration as finished:
            return core_share(finished.value, seen, shares)


async def measure_async(run, values, value_seconds, warmup_seconds, shares=None):
    plan = schedule(values, value_seconds, warmup_seconds)
    requests, seen = next(plan), []
    while True:
        cpu, started = time.process_time_ns(), time.perf_counter_ns()
        await run(requests)
        elapsed = time.perf_counter_ns() - started
        seen.append((time.process_time_ns() - cpu, elapsed))
        try:
            requests = plan.send(elapsed)
        except StopIteration as finished:
            return core_share(finished.value, seen, shares)


def core_share(result, seen, shares):
    """Append to ``shares`` each value's CPU time over its wall time; pass on.

    The worker's threads all run on one core (``bench.cli.Workers``), so a
    value that got less of the core than the others lost the difference to
    another process: the share names interference with the value it made
    slow. (A case that starts threads idles a little in every value, so the
    share is compared within a case, not with 1.)
    """
    if shares is not None:
        values = len(result[2])
        shares.extend(round(cpu / wall, 4) for cpu, wall in seen[-values:])
    return result


# Counting threads.


def os_threads():
    """The threads of this process as the kernel sees them (Linux), or None."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return None


class ThreadCounter:
    """Counts the threads started (``threading.Thread.start``) while active.

    asgiref's executors and ``async_to_sync`` start their threads through
    ``threading``, so every new OS thread a request causes passes here.
    """

    def __init__(self):
        self.started = 0
        self.idents = set()

    def __enter__(self):
        counter, original = self, threading.Thread.start
        self.original = original

        def start(thread, *args, **kwargs):
            counter.started += 1
            result = original(thread, *args, **kwargs)
            counter.idents.add(thread.ident)
            return result

        threading.Thread.start = start
        return self

    def __exit__(self, *exc):
        threading.Thread.start = self.original


def count_threads(run, requests, loop=None):
    """Threads started per request, and OS threads alive before and after.

    ``run`` is a driver from above; an async one runs on ``loop``.
    """
    before = os_threads()
    with ThreadCounter() as counter:
        if loop is not None:
            loop.run_until_complete(run(requests))
        else:
            run(requests)
    return {
        "requests": requests,
        "started": counter.started,
        "per_request": counter.started / requests,
        "os_threads_before": before,
        "os_threads_after": os_threads(),
    }


# The script: a minimal Django of any version since 2.2.


def trivial_sync(request):
    from django.http import HttpResponse

    return HttpResponse(BODY)


async def trivial_async(request):
    from django.http import HttpResponse

    return HttpResponse(BODY)


def setup_minimal_django():
    import django
    from django.conf import settings

    settings.configure(
        SECRET_KEY="bench-only-not-a-secret",
        DEBUG=False,
        ALLOWED_HOSTS=["localhost"],
        INSTALLED_APPS=[],
        MIDDLEWARE=[],
        ROOT_URLCONF=__name__,
        DATABASES={
            "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}
        },
        USE_I18N=True,
        USE_TZ=True,
    )
    django.setup()
    from django.urls import path

    sys.modules[__name__].urlpatterns = [
        path("trivial/sync/", trivial_sync),
        path("trivial/async/", trivial_async),
    ]
    return django.VERSION[:2]


def versions():
    from importlib import metadata

    found = {"python": platform.python_version()}
    for package in ("django", "asgiref"):  # Django 2.2 has no asgiref
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = None
    return found


def measure_path(name, args, loop):
    _, handler, view = PATHS[name]
    timing = (args.values, args.value_seconds, args.warmup_seconds)
    shares = []
    path = f"/trivial/{view}/"
    if handler == "wsgi":
        run, seen = wsgi_runner(path)
        run(1)
        done, loops, values = measure_sync(run, *timing, shares=shares)
    else:
        run, seen = asgi_runner(path)
        loop.run_until_complete(run(1))
        done, loops, values = loop.run_until_complete(
            measure_async(run, *timing, shares=shares)
        )
    if not seen or str(seen[0]) != "200":
        raise RuntimeError(f"{path} answered {seen[:1]}, not 200")
    record = {"warmup_requests": done, "loops": loops, "values_us": values}
    record["core_share"] = shares
    if args.count_threads:
        record["threads"] = count_threads(
            run, args.count_threads, loop if handler == "asgi" else None
        )
    return record


def measure_bridge(name, args, loop):
    run = bridge_runner(name)
    timing = (args.values, args.value_seconds, args.warmup_seconds)
    is_async = asyncio.iscoroutinefunction(run)
    shares = []
    if is_async:
        done, loops, values = loop.run_until_complete(
            measure_async(run, *timing, shares=shares)
        )
    else:
        done, loops, values = measure_sync(run, *timing, shares=shares)
    record = {"warmup_requests": done, "loops": loops, "values_us": values}
    record["core_share"] = shares
    if args.count_threads:
        record["threads"] = count_threads(
            run, args.count_threads, loop if is_async else None
        )
    return record


def positive_float(text):
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be above 0, got {text}")
    return value


def main(argv=None):
    parser = argparse.ArgumentParser(prog="bench/portable.py")
    parser.add_argument("--paths", nargs="*", default=[], choices=sorted(PATHS))
    parser.add_argument("--bridges", nargs="*", default=[], choices=BRIDGES)
    parser.add_argument("--values", type=int, default=3)
    parser.add_argument("--value-seconds", type=positive_float, default=0.05)
    parser.add_argument("--warmup-seconds", type=positive_float, default=0.1)
    parser.add_argument("--count-threads", type=int, default=0, metavar="N")
    parser.add_argument("--versions", action="store_true", help="print them, only")
    args = parser.parse_args(argv)
    try:
        if args.versions:
            print(json.dumps(versions()))
            return 0
        django_version = setup_minimal_django()
        for name in args.paths:
            if django_version < PATHS[name][0]:
                raise RuntimeError(
                    "Django {} has no {} path".format(
                        ".".join(map(str, django_version)), name
                    )
                )
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        record = dict(versions(), pid=os.getpid(), paths={}, bridges={})
        for name in args.paths:
            record["paths"][name] = measure_path(name, args, loop)
        for name in args.bridges:
            record["bridges"][name] = measure_bridge(name, args, loop)
        loop.close()
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(record))
    return 0


if __name__ == "__main__":
    sys.exit(main())
