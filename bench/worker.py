"""One worker process: measure one case and print its numbers as one JSON line.

``python -m bench.worker CASE --values K --value-seconds S --warmup-seconds W``
warms the case up for W seconds (which also times it), picks the number of
requests per value so that one value takes about S seconds, then measures K
values and prints ``{"loops": ..., "values_us": [...], ...}``: microseconds per
request, one number per value. Requests run back to back, in this process:
the WSGI paths in a plain loop, the ASGI paths and async bridges all inside one
event loop, so starting the loop is not measured.

``python -m bench.worker --prepare-db PATH`` creates and migrates the SQLite
database the ORM cases read, with a dozen services in it.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable

from bench.cases import CASES, Case

SERVICES = 12


def setup_django(case: Case | None = None) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    if case is not None and case.middleware:
        os.environ["BENCH_MIDDLEWARE"] = f"{case.middleware}:{case.middleware_count}"
    else:
        os.environ.pop("BENCH_MIDDLEWARE", None)
    import django

    django.setup()


def prepare_db(path: str) -> None:
    os.environ["BENCH_DB"] = path
    setup_django()
    from datetime import timedelta

    from django.core.management import call_command

    from sampleproject.board.models import Service

    call_command("migrate", verbosity=0, interactive=False)
    Service.objects.bulk_create(
        Service(
            name=f"service {number:02d}",
            slug=f"service-{number:02d}",
            url=f"https://status-{number:02d}.example.com/health",
            interval=timedelta(seconds=30 + number),
            timeout=2.5,
        )
        for number in range(SERVICES)
    )


# Request drivers: hand-made WSGI environs and ASGI scopes, no test client.


def wsgi_runner(path: str) -> tuple[Callable[[int], None], list]:
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
    seen: list = []

    def start_response(status, headers, exc_info=None):
        if not seen:
            seen.append(status.split()[0])

    def run(n: int) -> None:
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


def asgi_runner(path: str) -> tuple[Callable[[int], Awaitable[None]], list]:
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
    seen: list = []

    async def send(message):
        if len(seen) < 2:
            seen.append(message.get("status") or message.get("body"))

    async def run(n: int) -> None:
        for _ in range(n):
            await handler(dict(base), Receive(), send)

    return run, seen


def bridge_runner(name: str):
    from asgiref.sync import ThreadSensitiveContext, async_to_sync, sync_to_async

    def noop():
        return None

    async def anoop():
        return None

    if name == "async-to-sync":
        call = async_to_sync(anoop)

        def run(n: int) -> None:
            for _ in range(n):
                call()

        return run

    if name == "sync-to-async-sensitive-new-context":
        hop = sync_to_async(noop, thread_sensitive=True)

        async def run(n: int) -> None:
            for _ in range(n):
                async with ThreadSensitiveContext():
                    await hop()

        return run

    sensitive = name == "sync-to-async-sensitive"
    hop = sync_to_async(noop, thread_sensitive=sensitive)

    async def run(n: int) -> None:
        for _ in range(n):
            await hop()

    return run


# Measurement.


def calibrate(elapsed_ns: int, requests: int, value_seconds: float) -> int:
    """Requests per value so that one value takes about ``value_seconds``."""
    per_request = elapsed_ns / requests / 1e9
    return max(1, round(value_seconds / per_request))


def measure_sync(run, values: int, value_seconds: float, warmup_seconds: float):
    batch, done, spent = 1, 0, 0
    while spent < warmup_seconds * 1e9 or done == 0:
        started = time.perf_counter_ns()
        run(batch)
        spent += time.perf_counter_ns() - started
        done += batch
        batch *= 2
    loops = calibrate(spent, done, value_seconds)
    results = []
    for _ in range(values):
        started = time.perf_counter_ns()
        run(loops)
        results.append((time.perf_counter_ns() - started) / loops / 1000)
    return done, loops, results


async def measure_async(run, values: int, value_seconds: float, warmup_seconds: float):
    batch, done, spent = 1, 0, 0
    while spent < warmup_seconds * 1e9 or done == 0:
        started = time.perf_counter_ns()
        await run(batch)
        spent += time.perf_counter_ns() - started
        done += batch
        batch *= 2
    loops = calibrate(spent, done, value_seconds)
    results = []
    for _ in range(values):
        started = time.perf_counter_ns()
        await run(loops)
        results.append((time.perf_counter_ns() - started) / loops / 1000)
    return done, loops, results


def check_response(case: Case, seen: list) -> None:
    """Refuse to time a view that fails: a 500 is fast and means nothing."""
    status = str(seen[0]) if seen else "nothing"
    if status != "200":
        raise RuntimeError(f"{case.path} answered {status}, not 200")


def measure(case: Case, values: int, value_seconds: float, warmup_seconds: float):
    setup_django(case)
    timing = (values, value_seconds, warmup_seconds)
    if case.handler == "wsgi":
        run, seen = wsgi_runner(case.path)
        run(1)
        check_response(case, seen)
        return measure_sync(run, *timing)
    if case.handler == "asgi":
        run, seen = asgi_runner(case.path)

        async def main():
            await run(1)
            check_response(case, seen)
            return await measure_async(run, *timing)

        return asyncio.run(main())
    run = bridge_runner(case.bridge)
    if asyncio.iscoroutinefunction(run):
        return asyncio.run(measure_async(run, *timing))
    return measure_sync(run, *timing)


def positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be above 0, got {text}")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.worker")
    parser.add_argument("case", nargs="?", choices=sorted(CASES), metavar="CASE")
    parser.add_argument("--prepare-db", metavar="PATH")
    parser.add_argument("--values", type=int, default=3)
    parser.add_argument("--value-seconds", type=positive_float, default=0.1)
    parser.add_argument("--warmup-seconds", type=positive_float, default=0.2)
    args = parser.parse_args(argv)
    try:
        if args.prepare_db:
            prepare_db(args.prepare_db)
            return 0
        if args.case is None:
            parser.error("a case or --prepare-db is required")
        case = CASES[args.case]
        warmup, loops, values = measure(
            case, args.values, args.value_seconds, args.warmup_seconds
        )
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        print(
            f"{args.case or 'prepare-db'}: {type(exc).__name__}: {exc}", file=sys.stderr
        )
        return 1
    record = {
        "pid": os.getpid(),
        "warmup_requests": warmup,
        "loops": loops,
        "values_us": values,
    }
    print(json.dumps(record))
    return 0


if __name__ == "__main__":
    sys.exit(main())
