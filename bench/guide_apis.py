"""Figures for the REST APIs guide (docs/guides/rest-apis.md).

A suite (see :mod:`bench.cases`), registered as ``guide-apis``. It returns one
group, ``guide-apis``: one list request (``GET <stack>/services/``) to each
stack of snippets/guides/rest_apis.py, through ``WSGIHandler`` and through
``ASGIHandler``, in process, with no middleware. The cases are
``<stack>-<handler>``: ``plain``, ``drf``, ``adrf`` and ``ninja``, each with
``wsgi`` and ``asgi``; every case's ratio is to ``drf-wsgi`` (DRF as most
projects serve it today). Each run records the thread hops of one request
(``hops``). The group records ``rows``, the services each response lists.

The harness prepares one SQLite database (``python -m bench.guide_apis
prepare PATH``), then runs a worker process per repetition
(``python -m bench.guide_apis measure PATH``) that measures every case in
turn, with the request drivers of :mod:`bench.portable`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile

GROUP = "guide-apis"
STACKS = {
    "plain": "async views and JsonResponse",
    "drf": "Django REST framework (sync APIView)",
    "adrf": "adrf (async APIView)",
    "ninja": "Django Ninja (async operations)",
}
HANDLERS = {"wsgi": "WSGIHandler", "asgi": "ASGIHandler"}
BASELINE = "drf-wsgi"
ROWS = 10  # services in each response
# A full run's workers each measure all eight cases, about 8 s each on a
# quiet machine: two keep the suite under 30 s even on a busy one (36 s with
# three there). A quick run needs one.
FULL_PROCESSES, QUICK_PROCESSES = 2, 1


def cases() -> dict[str, str]:
    """Case name: label."""
    return {
        f"{stack}-{handler}": f"{label}, via {HANDLERS[handler]}"
        for stack, label in STACKS.items()
        for handler in HANDLERS
    }


KNOWN_CASES = {f"{GROUP}/{name}" for name in cases()}
KNOWN_GROUPS = {GROUP}


# The harness side: no Django here.


def run(settings: dict, progress) -> dict:
    from bench.cli import ROOT, Workers

    timing = {
        key: settings[key] for key in ("values", "value_seconds", "warmup_seconds")
    }
    processes = settings["processes"]
    if "processes" not in settings.get("explicit", []):
        quick = settings.get("mode") == "quick"
        processes = min(processes, QUICK_PROCESSES if quick else FULL_PROCESSES)
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONDONTWRITEBYTECODE="1")
    env.pop("DJANGO_SETTINGS_MODULE", None)
    module = [sys.executable, "-m", "bench.guide_apis"]
    progress.add(processes + 1)
    records = []
    workers = Workers(env, pin=settings.get("pin", False))
    with tempfile.TemporaryDirectory(prefix="bench-apis-") as directory:
        database = os.path.join(directory, "apis.sqlite3")
        try:
            workers.run(
                [], "guide-apis: prepare", command=[*module, "prepare", database]
            )
            progress.step("guide-apis: database prepared")
            for process in range(processes):
                command = [*module, "measure", database, "--timing", json.dumps(timing)]
                out = workers.run([], "guide-apis: measure", command=command)
                records.append({"process": process, **json.loads(out)})
                progress.step(f"guide-apis: process {process + 1}/{processes}")
        finally:
            workers.stop()
    return {GROUP: group(records, timing, processes)}


def group(records: list[dict], timing: dict, processes: int) -> dict:
    from bench.stats import hop_count

    result = {}
    for name, label in cases().items():
        runs = [
            {
                "process": record["process"],
                "values_us": record["cases"][name]["values_us"],
                "hops": record["cases"][name]["hops"],
            }
            for record in records
        ]
        params = {"hops": hop_count(runs[0]["hops"])}
        case = {"label": label, "params": params, "unit": "us", "runs": runs}
        if name != BASELINE:
            case["baseline"] = BASELINE
        result[name] = case
    return {
        "title": "One list request per API stack, in process, no middleware",
        "rows": ROWS,
        "settings": {**timing, "processes": processes},
        "cases": result,
    }


# The worker side.


def setup_django(database: str) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    os.environ["BENCH_DB"] = database
    os.environ.pop("BENCH_MIDDLEWARE", None)
    import django
    from django.conf import settings

    # DRF's anonymous user is django.contrib.auth's: the app must be installed.
    settings.INSTALLED_APPS = [
        "django.contrib.auth",
        "django.contrib.contenttypes",
        "sampleproject.board",
    ]
    settings.ROOT_URLCONF = "snippets.guides.rest_apis"
    django.setup()


def prepare(database: str) -> None:
    setup_django(database)
    from django.core.management import call_command
    from django.utils import timezone

    from sampleproject.board.models import Check, Service

    call_command("migrate", verbosity=0, interactive=False)
    services = Service.objects.bulk_create(
        Service(
            name=f"Service {number:02d}",
            slug=f"service-{number:02d}",
            url=f"https://status-{number:02d}.example.com/health",
        )
        for number in range(ROWS)
    )
    now = timezone.now()
    Check.objects.bulk_create(
        Check(
            service=service,
            checked_at=now,
            ok=number % 3 != 0,
            status_code=200 if number % 3 else 503,
        )
        for number, service in enumerate(services)
    )


def measure(database: str, timing: dict) -> dict:
    setup_django(database)
    import asyncio

    from bench.portable import asgi_runner, measure_async, measure_sync, wsgi_runner
    from snippets.internals.hops import count_hops

    arguments = (timing["values"], timing["value_seconds"], timing["warmup_seconds"])
    results = {}
    for name in cases():
        stack, _, handler = name.rpartition("-")
        path = f"/{stack}/services/"
        if handler == "wsgi":
            run, seen = wsgi_runner(path)
            with count_hops() as hops:
                run(1)
            refuse_failure(path, seen)
            _, _, values = measure_sync(run, *arguments)
        else:
            run, seen = asgi_runner(path)

            async def timed(run=run, seen=seen, path=path):
                with count_hops() as hops:
                    await run(1)
                refuse_failure(path, seen)
                return hops, await measure_async(run, *arguments)

            hops, (_, _, values) = asyncio.run(timed())
        results[name] = {"values_us": values, "hops": dict(hops)}
    return {"cases": results}


def refuse_failure(path: str, seen: list) -> None:
    """A 500 is fast and means nothing: refuse to time it."""
    status = str(seen[0]) if seen else "nothing"
    if status != "200":
        raise RuntimeError(f"{path} answered {status}, not 200")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.guide_apis")
    parser.add_argument("what", choices=["prepare", "measure"])
    parser.add_argument("database", help="the SQLite file to create or read")
    parser.add_argument(
        "--timing",
        default='{"values": 3, "value_seconds": 0.05, "warmup_seconds": 0.1}',
        help="JSON: values, value_seconds, warmup_seconds",
    )
    args = parser.parse_args(argv)
    try:
        timing = json.loads(args.timing)
        if args.what == "measure" and not os.path.exists(args.database):
            raise ValueError(f"no database at {args.database}: run prepare first")
        if args.what == "prepare":
            prepare(args.database)
            return 0
        record = measure(args.database, timing)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # one line for the harness, not a traceback
        print(f"guide-apis {args.what}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(record))
    return 0


if __name__ == "__main__":
    sys.exit(main())
