"""The figures of the migration guide (docs/guides/migrating.md).

A suite (see :mod:`bench.cases`), registered as ``guide-migrating``. It
returns one group, ``guide-migrating``: one GET of a page of the status board
at each step of the guide (``snippets/guides/migrating.py``), through Django's
real handlers, in process, on the sample project's test settings with
``DEBUG = False`` and a SQLite test database:

``service-step1-wsgi``
    The service page (a sync view, four queries and a template), in the sync
    project, through ``WSGIHandler``: the baseline of the other cases.
``service-step2-asgi``
    The same project, unchanged, through ``ASGIHandler``.
``service-step4-asgi``
    The service page still sync, the sync-only middleware replaced.
``service-step5-asgi``
    The service page converted: the sample project's async view.
``summary-sync-asgi`` and ``summary-async-asgi``
    The summary (two counts) at step 5: the sync view the guide keeps, and
    the sample project's async one (baseline the sync one).

Each ASGI run records the thread hops of one request (``hops``). Each worker
process (``python -m bench.guide_migrating``) creates the test database,
measures every case, and drops the database.

Run it alone with ``python -m bench run --only guide-migrating``.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys

GROUP = "guide-migrating"
SERVICE_PAGE = "/services/payments/"
SUMMARY = "/api/summary/"
CHECKS = 30  # two pages of the service page's 25
# name: (label, step attribute of snippets.guides.migrating, handler, path, baseline)
CASES = {
    "service-step1-wsgi": (
        "step 1, the sync project: service page via WSGIHandler",
        "SYNC_PROJECT",
        "wsgi",
        SERVICE_PAGE,
        None,
    ),
    "service-step2-asgi": (
        "step 2, unchanged: service page via ASGIHandler",
        "SYNC_PROJECT",
        "asgi",
        SERVICE_PAGE,
        "service-step1-wsgi",
    ),
    "service-step4-asgi": (
        "step 4, middleware fixed: sync service page via ASGIHandler",
        "MIDDLEWARE_FIXED",
        "asgi",
        SERVICE_PAGE,
        "service-step1-wsgi",
    ),
    "service-step5-asgi": (
        "step 5, the rest converted: async service page via ASGIHandler",
        "REST_CONVERTED",
        "asgi",
        SERVICE_PAGE,
        "service-step1-wsgi",
    ),
    "summary-sync-asgi": (
        "step 5: the sync summary via ASGIHandler",
        "REST_CONVERTED",
        "asgi",
        SUMMARY,
        None,
    ),
    "summary-async-asgi": (
        "step 5 with an async summary via ASGIHandler",
        "ASYNC_SUMMARY",
        "asgi",
        SUMMARY,
        "summary-sync-asgi",
    ),
}
FULL_PROCESSES, QUICK_PROCESSES = 3, 1

# Every group/case this suite can record, for _ext/benchdata.py.
KNOWN_CASES = frozenset(f"{GROUP}/{name}" for name in CASES)
KNOWN_GROUPS = frozenset([GROUP])


# The harness side: no Django here.


def run(settings: dict, progress) -> dict:
    from bench.cli import ROOT, Workers

    quick = settings.get("mode") == "quick"
    timing = {
        key: settings[key] for key in ("values", "value_seconds", "warmup_seconds")
    }
    processes = settings["processes"]
    if "processes" not in settings.get("explicit", []):
        processes = min(processes, QUICK_PROCESSES if quick else FULL_PROCESSES)
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONDONTWRITEBYTECODE="1")
    env["DJANGO_SETTINGS_MODULE"] = "sampleproject.settings.test"
    env.pop("DATABASE_URL", None)  # SQLite: the same database on every machine
    env.pop("REDIS_URL", None)
    workers = Workers(env, pin=settings.get("pin", False))
    progress.add(processes)
    records: list[dict] = []
    try:
        for process in range(processes):
            command = [
                sys.executable,
                "-m",
                "bench.guide_migrating",
                json.dumps(timing),
            ]
            out = workers.run([], "guide-migrating", command=command)
            records.append({"process": process, "cases": json.loads(out)})
            progress.step(f"guide-migrating: process {process + 1}/{processes}")
    finally:
        workers.stop()
    return {GROUP: group(records, timing, processes)}


def group(records: list[dict], timing: dict, processes: int) -> dict:
    cases = {}
    for name, (label, step, handler, path, baseline) in CASES.items():
        runs = []
        for record in records:
            measured = record["cases"][name]
            run = {"process": record["process"], "values_us": measured["values_us"]}
            if "hops" in measured:
                run["hops"] = measured["hops"]
            runs.append(run)
        case = {
            "label": label,
            "params": {"step": step, "handler": handler, "path": path},
            "unit": "us",
            "runs": runs,
        }
        if baseline:
            case["baseline"] = baseline
        cases[name] = case
    return {
        "title": "The status board at each step of the migration guide",
        "checks": CHECKS,
        "settings": {**timing, "processes": processes},
        "cases": cases,
    }


# The worker side: one process, Django set up, every case measured in turn.


def seed_board() -> None:
    from datetime import timedelta

    from django.utils import timezone

    from sampleproject.board.demo import seed
    from sampleproject.board.models import Check, Incident, Service

    seed()
    payments = Service.objects.get(slug="payments")
    now = timezone.now()
    Check.objects.bulk_create(
        Check(
            service=payments,
            ok=n % 3 != 0,
            status_code=200 if n % 3 else 503,
            latency_ms=10.0 + n,
            checked_at=now - timedelta(minutes=n),
        )
        for n in range(CHECKS)
    )
    Incident.objects.create(
        service=payments, cause="Unexpected status: HTTP 503", opened_at=now
    )


def measure_case(step, handler: str, path: str, timing: dict) -> dict:
    import asyncio

    from bench.portable import asgi_runner, measure_async, measure_sync, wsgi_runner
    from snippets.internals.hops import count_hops

    plan = (timing["values"], timing["value_seconds"], timing["warmup_seconds"])
    with step.active():  # before the handler: it builds its chain from settings
        if handler == "wsgi":
            run, seen = wsgi_runner(path)
            run(1)
            check_answer(path, seen)
            return {"values_us": measure_sync(run, *plan)[2]}
        run, seen = asgi_runner(path)

        async def main() -> dict:
            await run(1)
            check_answer(path, seen)
            with count_hops() as hops:
                await run(1)
            values = (await measure_async(run, *plan))[2]
            return {"values_us": values, "hops": dict(hops)}

        return asyncio.run(main())


def check_answer(path: str, seen: list) -> None:
    """Refuse to time a page that fails: a 500 is fast and means nothing."""
    status = str(seen[0]) if seen else "nothing"
    if status != "200":
        raise RuntimeError(f"{path} answered {status}, not 200")


def worker(timing: dict) -> dict:
    import django
    from django.conf import settings

    settings.DEBUG = False  # as in production: no query log, no template debug
    settings.ALLOWED_HOSTS = ["localhost"]
    django.setup()
    from asgiref.sync import SyncToAsync
    from django.db import connection, connections

    from sampleproject.board.views import api
    from snippets.guides import migrating

    steps = {
        "SYNC_PROJECT": migrating.SYNC_PROJECT,
        "MIDDLEWARE_FIXED": migrating.MIDDLEWARE_FIXED,
        "REST_CONVERTED": migrating.REST_CONVERTED,
        "ASYNC_SUMMARY": migrating.REST_CONVERTED.but(summary=api.summary),
    }
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    # Hold one more connection to the database for the whole run, as a
    # server's other workers would. Without it, a request that closes the last
    # connection makes SQLite checkpoint its write-ahead log and delete it:
    # under WSGIHandler, which runs each request in this thread, every request.
    keeper = sqlite3.connect(connection.settings_dict["NAME"])
    try:
        keeper.execute("SELECT 1")
        seed_board()
        return {
            name: measure_case(steps[step], handler, path, timing)
            for name, (_, step, handler, path, _) in CASES.items()
        }
    finally:
        # Awaited queries left connections open in asgiref's threads: close
        # them there, or the test database's files outlive it.
        SyncToAsync.single_thread_executor.submit(connections.close_all).result()
        connections.close_all()
        keeper.close()
        connection.creation.destroy_test_db(old_name, verbosity=0)


TIMING_KEYS = {"values", "value_seconds", "warmup_seconds"}
USAGE = (
    "usage: python -m bench.guide_migrating TIMING_JSON, where TIMING_JSON is an"
    ' object like {"values": 5, "value_seconds": 0.1, "warmup_seconds": 0.3}'
)


def parse_timing(argv: list[str]) -> dict | None:
    """The timing object of the command line, or None if it is not one."""
    if len(argv) != 1:
        return None
    try:
        timing = json.loads(argv[0])
    except ValueError:
        return None
    if not isinstance(timing, dict) or not timing.keys() >= TIMING_KEYS:
        return None
    return timing


def main(argv: list[str]) -> int:
    timing = parse_timing(argv)
    if timing is None:
        print(USAGE, file=sys.stderr)
        return 2
    print(json.dumps(worker(timing)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
