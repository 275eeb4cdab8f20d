"""The figures of the ORM and templates guides (docs/guides/orm.md, templates.md).

Two groups, measured in one worker process per run and database, on the sample
project's test settings with ``DEBUG = False``, by calling the guides' own
functions (snippets/guides/orm.py, templates.py) directly, without a handler:

``guide-orm``
    ``view-a-methods``: the typical async view of four awaited queries (its
    ``hops`` are recorded); ``view-one-hop``: the same queries in one
    ``sync_to_async`` call, the baseline. ``in-turn-10``: ten ``acount()``
    queries awaited one after the other, the baseline of ``gather-10``: the
    same ten through ``asyncio.gather`` (a ratio near 1: they do not run in
    parallel), and ``one-hop-10``: the ten in one sync function. The same five
    with a ``pg-`` prefix on PostgreSQL, when ``DATABASE_URL`` is set, plus
    ``pg-wait-in-turn-10`` and ``pg-wait-gather-10``: ten queries that each
    wait 5 ms in the database (``pg_sleep``). With django-async-backend
    installed (Django 6.1 only), ``pg-native-view``, ``pg-native-in-turn-10``,
    ``pg-native-gather-10`` and ``pg-native-wait-gather-10`` run the same
    queries through its async querysets, each task on its own connection;
    each one's ratio is to its ``pg-`` counterpart.
``guide-templates``
    ``django-N`` and ``jinja2-N``: one render of the checks page with N rows,
    on the event loop, with data already in memory: Django's engine (sync,
    the loop is blocked for all of it) and Jinja2's ``render_async``
    (ratio to ``django-N``). ``thresholds`` records, for each engine, the rows
    at which one render passes 1 ms and 10 ms, interpolated between the
    medians: ``groups/guide-templates/thresholds/django/rows_1ms``.

Run it alone with ``python -m bench run --only guide-data``.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import statistics
import sys

GATHERED = 10  # queries in the gather cases
ROWS = (10, 100, 1000)
ENGINES = {"django": "Django templates, render()", "jinja2": "Jinja2, render_async()"}
ORM_CASES = {
    "view-a-methods": ("typical async view: four awaited a-methods", "view-one-hop"),
    "view-one-hop": ("the same four queries in one sync_to_async call", None),
    "in-turn-10": (f"{GATHERED} acount() awaited in turn", None),
    "gather-10": (f"{GATHERED} acount() through asyncio.gather", "in-turn-10"),
    "one-hop-10": (f"{GATHERED} count() in one sync_to_async call", "in-turn-10"),
}
# PostgreSQL only: queries that each wait WAIT_SECONDS in the database
# (pg_sleep), where running them at once would pay.
WAIT_SECONDS = 0.005
WAIT_CASES = {
    "wait-in-turn-10": (f"{GATHERED} queries that wait 5 ms, in turn", None),
    "wait-gather-10": (
        f"{GATHERED} queries that wait 5 ms, asyncio.gather",
        "wait-in-turn-10",
    ),
}

# django-async-backend on PostgreSQL: the queries on an async connection, no
# hop; each case's ratio is to its wrapped pg- counterpart.
NATIVE_CASES = {
    "view": ("the four queries, django-async-backend", "pg-view-a-methods"),
    "in-turn-10": (
        f"{GATHERED} acount() in turn, django-async-backend",
        "pg-in-turn-10",
    ),
    "gather-10": (
        f"{GATHERED} acount() gathered, each on its own connection,"
        " django-async-backend",
        "pg-gather-10",
    ),
    "wait-gather-10": (
        f"{GATHERED} queries that wait 5 ms, gathered, each on its own"
        " connection, django-async-backend",
        "pg-wait-gather-10",
    ),
}
DATABASES = {"sqlite": "", "postgresql": "pg-", "native": "pg-native-"}
THRESHOLDS_MS = (1, 10)
# Two, not three: a worker migrates its database and times every case, about
# 7 s on SQLite; recomputed from a run of three, two gave no more flagged figures.
FULL_PROCESSES, QUICK_PROCESSES = 2, 1

KNOWN_CASES = frozenset(
    [
        *(f"guide-orm/{prefix}{name}" for prefix in ("", "pg-") for name in ORM_CASES),
        *(f"guide-orm/pg-{name}" for name in WAIT_CASES),
        *(f"guide-orm/pg-native-{name}" for name in NATIVE_CASES),
        *(f"guide-templates/{engine}-{rows}" for engine in ENGINES for rows in ROWS),
    ]
)

KNOWN_GROUPS = frozenset(["guide-orm", "guide-templates"])


# The harness side: no Django here.


def run(settings: dict, progress) -> dict:
    from bench.cli import ROOT, Workers

    quick = settings.get("mode") == "quick"
    timing = {
        key: settings[key] for key in ("values", "value_seconds", "warmup_seconds")
    }
    # Each worker migrates a test database and measures every case, seconds
    # each: fewer of them than the in-process cases' profile asks, unless the
    # command line says how many.
    processes = settings["processes"]
    if "processes" not in settings.get("explicit", []):
        processes = min(processes, QUICK_PROCESSES if quick else FULL_PROCESSES)
    base_env = dict(os.environ, PYTHONPATH=str(ROOT))
    base_env["DJANGO_SETTINGS_MODULE"] = "sampleproject.settings.test"
    databases = {"sqlite": {k: v for k, v in base_env.items() if k != "DATABASE_URL"}}
    skipped = []
    if os.environ.get("DATABASE_URL"):
        databases["postgresql"] = base_env
    else:
        why = "DATABASE_URL is not set"
        skipped.append({"what": "the pg- cases (PostgreSQL)", "why": why})
        progress.note(f"guide-data: PostgreSQL cases skipped: {why}")
    why = native_missing()
    if why:
        skipped.append(
            {"what": "the pg-native- cases (django-async-backend)", "why": why}
        )
        progress.note(f"guide-data: django-async-backend cases skipped: {why}")
    else:
        databases["native"] = base_env
    progress.add(processes * len(databases))
    records: dict[str, list] = {}
    for database, env in databases.items():
        workers = Workers(env, pin=settings.get("pin", False))
        for process in range(processes):
            command = [sys.executable, "-m", "bench.guide_data", json.dumps(timing)]
            command += ["--native"] if database == "native" else []
            out = workers.run([], f"guide-data {database}", command=command)
            for key, run_record in json.loads(out).items():
                run_record["process"] = process
                records.setdefault((database, key), []).append(run_record)
            progress.step(f"guide-data: {database} process {process + 1}/{processes}")
    return groups(records, timing, processes, skipped)


def native_missing() -> str:
    """Why the django-async-backend cases cannot run here ("" when they can)."""
    import importlib.util

    if not os.environ.get("DATABASE_URL"):
        return "DATABASE_URL is not set"
    if importlib.util.find_spec("django_async_backend") is None:
        return "django-async-backend is not installed (it needs Django 6.1)"
    return ""


def groups(records: dict, timing: dict, processes: int, skipped: list) -> dict:
    orm = {"title": "The ORM from async code", "cases": {}, "skipped": skipped}
    templates = {"title": "A render on the event loop", "cases": {}}
    for (database, key), runs in records.items():
        group, name = key.split("/")
        if group == "guide-orm":
            prefix = DATABASES[database]
            cases = NATIVE_CASES if database == "native" else ORM_CASES | WAIT_CASES
            label, baseline = cases[name]
            case = {
                "label": f"{label} ({database})",
                "params": {"database": database, "queries": name},
                "unit": "us",
                "runs": runs,
            }
            if baseline and database == "native":
                case["baseline"] = baseline
            elif baseline:
                case["baseline"] = prefix + baseline
            orm["cases"][prefix + name] = case
        elif database == "sqlite":  # a render reads no database
            engine, rows = name.rsplit("-", 1)
            case = {
                "label": f"{ENGINES[engine]}, {rows} rows",
                "params": {"engine": engine, "rows": int(rows)},
                "unit": "us",
                "runs": runs,
            }
            if engine == "jinja2":
                case["baseline"] = f"django-{rows}"
            templates["cases"][name] = case
    templates["thresholds"] = thresholds(templates["cases"])
    for group in (orm, templates):
        group["settings"] = {**timing, "processes": processes}
    return {"guide-orm": orm, "guide-templates": templates}


def thresholds(cases: dict) -> dict:
    """For each engine, the rows at which one render passes 1 ms and 10 ms.

    Interpolated between the two measured row counts around each threshold
    (extrapolated from the nearest two outside them), on the medians.
    """
    result = {}
    for engine in ENGINES:
        points = sorted(
            (case["params"]["rows"], statistics.median(all_values(case)))
            for case in cases.values()
            if case["params"]["engine"] == engine
        )
        if len(points) < 2:
            continue
        result[engine] = {
            f"rows_{ms}ms": rows_at(points, ms * 1000) for ms in THRESHOLDS_MS
        }
    return result


def rows_at(points: list[tuple[int, float]], budget_us: float) -> int:
    pairs = list(itertools.pairwise(points))
    (n1, t1), (n2, t2) = next(
        (pair for pair in pairs if pair[1][1] >= budget_us), pairs[-1]
    )
    per_row = (t2 - t1) / (n2 - n1)
    if per_row <= 0:
        return n1 if budget_us <= t1 else n2
    return max(1, math.ceil(n1 + (budget_us - t1) / per_row))


def all_values(case: dict) -> list[float]:
    return [value for run in case["runs"] for value in run["values_us"]]


# The worker side: one process, Django set up, every case measured in turn.


def measure(call, timing: dict, run) -> list[float]:
    """Microseconds per call of the coroutine function ``call``, ``values``
    times, each on the loop that ``run`` (an :class:`asyncio.Runner`'s) uses."""
    import time

    from bench.portable import settle

    async def timed(loops: int) -> float:
        started = time.perf_counter()
        for _ in range(loops):
            await call()
        return time.perf_counter() - started

    async def values() -> list[float]:
        settle()
        loops, spent = 1, await timed(1)
        deadline = time.perf_counter() + timing["warmup_seconds"]
        while time.perf_counter() < deadline:
            spent = await timed(1)
        loops = max(1, int(timing["value_seconds"] / max(spent, 1e-6)))
        return [(await timed(loops)) / loops * 1e6 for _ in range(timing["values"])]

    return run(values())


def measure_orm(calls: dict, timing: dict, run) -> dict:
    from snippets.internals.hops import count_hops

    records = {}
    for name, call in calls.items():
        values = measure(call, timing, run)

        async def counted(call=call):
            with count_hops() as hops:
                await call()
            return dict(hops)

        records[f"guide-orm/{name}"] = {"values_us": values, "hops": run(counted())}
    return records


def wait(manager):
    """One query that waits WAIT_SECONDS in PostgreSQL before it answers."""
    from django.db.models.expressions import RawSQL

    nap = RawSQL("pg_sleep(%s)", [WAIT_SECONDS])
    return manager.annotate(nap=nap).filter(slug="search").values_list("nap").afirst()


async def waits_in_turn(manager):
    return [await wait(manager) for _ in range(GATHERED)]


async def waits_gathered(manager):
    import asyncio

    return await asyncio.gather(*(wait(manager) for _ in range(GATHERED)))


def setup_django(native: bool) -> None:
    import django
    from django.conf import settings

    settings.DEBUG = False  # as in production: no query log, no template debug
    if native:
        settings.DATABASES["default"]["ENGINE"] = (
            "django_async_backend.db.backends.postgresql"
        )
        settings.INSTALLED_APPS = [*settings.INSTALLED_APPS, "django_async_backend"]
    django.setup()


def seed_data() -> list[str]:
    """The demo services, padded to GATHERED, each with RECENT checks."""
    from django.utils import timezone

    from sampleproject.board.demo import seed
    from sampleproject.board.models import Check, Service
    from snippets.guides.orm import RECENT

    seed()
    extra = GATHERED - Service.objects.count()
    Service.objects.bulk_create(
        Service(name=f"Service {i}", slug=f"service-{i}", url="https://example.com/")
        for i in range(extra)
    )
    now = timezone.now()
    Check.objects.bulk_create(
        Check(
            service=service, checked_at=now, status_code=200, ok=True, latency_ms=12.5
        )
        for service in Service.objects.all()
        for _ in range(RECENT)
    )
    return list(Service.objects.values_list("slug", flat=True))


def worker(timing: dict) -> dict:
    setup_django(native=False)
    import asyncio

    from asgiref.sync import SyncToAsync
    from django.db import connection, connections
    from django.test import RequestFactory

    from sampleproject.board.models import Check, Service
    from snippets.guides import orm, templates

    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        slugs = seed_data()
        request = RequestFactory().get("/status/search/")
        calls = {
            "view-a-methods": lambda: orm.service_status(request, "search"),
            "view-one-hop": lambda: orm.service_status_one_hop(request, "search"),
            "in-turn-10": lambda: orm.counts_in_turn(slugs),
            "gather-10": lambda: orm.counts_gathered(slugs),
            "one-hop-10": lambda: orm.counts_one_hop(slugs),
        }
        if connection.vendor == "postgresql":
            calls["wait-in-turn-10"] = lambda: waits_in_turn(Service.objects)
            calls["wait-gather-10"] = lambda: waits_gathered(Service.objects)
        with asyncio.Runner() as runner:
            records = measure_orm(calls, timing, runner.run)
            if connection.vendor != "sqlite":
                # A render reads no database: groups() keeps SQLite's renders,
                # so the PostgreSQL worker does not spend seconds on its own.
                return records
            service = Service.objects.get(slug="search")
            checks = list(Check.objects.filter(service=service)[:1]) * max(ROWS)
            jinja = templates.jinja_engine.get_template(templates.JINJA_PAGE)
            for rows in ROWS:
                context = {"service": service, "checks": checks[:rows]}

                async def django_render(context=context):
                    templates.render_checks(context)

                async def jinja_render(context=context):
                    await jinja.render_async(context)

                for engine, call in (
                    ("django", django_render),
                    ("jinja2", jinja_render),
                ):
                    records[f"guide-templates/{engine}-{rows}"] = {
                        "values_us": measure(call, timing, runner.run)
                    }
    finally:
        # Awaited queries ran in asgiref's one thread-sensitive thread, and left
        # a connection open there: close it there, or the drop fails.
        SyncToAsync.single_thread_executor.submit(connections.close_all).result()
        connections.close_all()
        connection.creation.destroy_test_db(old_name, verbosity=0)
    return records


def native_worker(timing: dict) -> dict:
    """The same queries through django-async-backend's async querysets."""
    setup_django(native=True)
    import asyncio

    from django.db import connection, connections
    from django_async_backend.db import async_connections, async_new_connection

    from sampleproject.board.models import Check, Incident, Service
    from snippets.guides.orm import RECENT, status

    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        slugs = seed_data()

        # A connection belongs to the task that first used it; each call is a
        # new task here, as each request is under ASGI: it takes its own.
        @async_new_connection
        async def view():
            service = await Service.async_objects.aget(slug="search")
            checks = Check.async_objects.filter(service_id=service.pk)[:RECENT]
            checks = [check async for check in checks]
            incidents = Incident.async_objects.filter(closed_at__isnull=True)
            incident = await incidents.filter(service_id=service.pk).afirst()
            return status(service, checks, incident, await incidents.acount())

        def count(slug):
            return Check.async_objects.filter(service__slug=slug).acount()

        @async_new_connection
        async def in_turn():
            return [await count(slug) for slug in slugs]

        async def gathered():
            # Each gathered query is a task of its own, with its own connection.
            return await asyncio.gather(
                *(async_new_connection(count(slug)) for slug in slugs)
            )

        async def waits():
            return await asyncio.gather(
                *(async_new_connection(wait(Service.async_objects)) for _ in slugs)
            )

        calls = {
            "view": view,
            "in-turn-10": in_turn,
            "gather-10": gathered,
            "wait-gather-10": waits,
        }
        with asyncio.Runner() as runner:
            try:
                records = measure_orm(calls, timing, runner.run)
            finally:

                async def close():
                    for each in async_connections.all():
                        await each.close()
                        await each.close_pool()

                runner.run(close())
    finally:
        connections.close_all()
        connection.creation.destroy_test_db(old_name, verbosity=0)
    return records


if __name__ == "__main__":
    timing = json.loads(sys.argv[1])
    native = "--native" in sys.argv[2:]
    print(json.dumps((native_worker if native else worker)(timing)))
