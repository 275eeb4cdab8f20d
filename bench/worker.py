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
import json
import os
import sys

from bench.cases import CASES, Case

# The drivers and timing loops also run in old Django releases' environments.
from bench.portable import (
    asgi_runner,
    bridge_runner,
    calibrate,
    measure_async,
    measure_sync,
    positive_float,
    wsgi_runner,
)

__all__ = ["calibrate", "main", "measure", "prepare_db"]

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


def check_response(case: Case, seen: list) -> None:
    """Refuse to time a view that fails: a 500 is fast and means nothing."""
    status = str(seen[0]) if seen else "nothing"
    if status != "200":
        raise RuntimeError(f"{case.path} answered {status}, not 200")


def measure(
    case: Case,
    values: int,
    value_seconds: float,
    warmup_seconds: float,
    shares: list | None = None,
):
    setup_django(case)
    timing = (values, value_seconds, warmup_seconds)
    if case.handler == "wsgi":
        run, seen = wsgi_runner(case.path)
        run(1)
        check_response(case, seen)
        return measure_sync(run, *timing, shares=shares)
    if case.handler == "asgi":
        run, seen = asgi_runner(case.path)

        async def main():
            await run(1)
            check_response(case, seen)
            return await measure_async(run, *timing, shares=shares)

        return asyncio.run(main())
    run = bridge_runner(case.bridge)
    if asyncio.iscoroutinefunction(run):
        return asyncio.run(measure_async(run, *timing, shares=shares))
    return measure_sync(run, *timing, shares=shares)


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
        shares: list[float] = []
        warmup, loops, values = measure(
            case, args.values, args.value_seconds, args.warmup_seconds, shares
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
        "core_share": shares,
    }
    if case.group == "middleware":
        from bench.middleware import hops_per_request

        record["hops"] = hops_per_request(case.path)
    print(json.dumps(record))
    return 0


if __name__ == "__main__":
    sys.exit(main())
