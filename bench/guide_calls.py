"""Figures for the guides on calling sync code and on the cache.

A suite (see :mod:`bench.cases`), registered as ``guide-calls``. It returns
two groups:

``guide-executor``
    The loop's default executor, which every ``sync_to_async(...,
    thread_sensitive=False)`` call without an executor of its own shares.
    Each case is the latency of the slowest of N concurrent calls of a function
    that blocks for :data:`SLEEP_SECONDS`: ``one-call`` (N = 1, the baseline),
    ``at-capacity`` (N = the executor's ``max_workers``) and ``one-over``
    (N = ``max_workers`` + 1: the last call waits for a free thread). The group
    records ``max_workers``, ``cpus`` and ``sleep_ms``.

``guide-cache``
    One call of each built-in cache backend: ``<backend>-get`` (the sync
    method from sync code) and ``<backend>-aget`` (the awaited method from a
    coroutine, baseline the sync one), for ``locmem``, ``db`` (SQLite),
    ``file`` and, with ``REDIS_URL`` set, ``redis``; plus ``redis-asyncio-get``,
    the same read through ``redis.asyncio`` (baseline ``redis-aget``). Each run
    records the thread hops of one call (``hops``), so that pages can say
    which calls hop. Without ``REDIS_URL`` the Redis cases are listed under the
    group's ``skipped``.

Each measurement runs in a worker process (``python -m bench.guide_calls``),
one per case kind and process, through :class:`bench.cli.Workers`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

EXECUTOR_GROUP = "guide-executor"
CACHE_GROUP = "guide-cache"
SLEEP_SECONDS = 0.05
EXECUTOR_CASES = {
    "one-call": "one call alone",
    "at-capacity": "max_workers calls at once, the slowest",
    "one-over": "max_workers + 1 calls at once, the last",
}
BACKENDS = {
    "locmem": ("django.core.cache.backends.locmem.LocMemCache", "local memory"),
    "db": ("django.core.cache.backends.db.DatabaseCache", "database (SQLite)"),
    "file": ("django.core.cache.backends.filebased.FileBasedCache", "files"),
    "redis": ("django.core.cache.backends.redis.RedisCache", "Redis"),
}
NATIVE = "redis-asyncio-get"
# Calls per value: enough that the timer's resolution does not matter.
CALLS = {"full": 400, "quick": 20}


def cache_cases() -> dict[str, tuple[str, str | None]]:
    """Case name: (label, baseline)."""
    cases = {}
    for name, (_, label) in BACKENDS.items():
        cases[f"{name}-get"] = (f"{label}: get() from sync code", None)
        cases[f"{name}-aget"] = (f"{label}: await aget()", f"{name}-get")
    cases[NATIVE] = ("redis.asyncio: await get()", "redis-aget")
    return cases


# Every group/case this suite can record, for _ext/benchdata.py.
KNOWN_CASES = {
    *(f"{EXECUTOR_GROUP}/{name}" for name in EXECUTOR_CASES),
    *(f"{CACHE_GROUP}/{name}" for name in cache_cases()),
}
KNOWN_GROUPS = {EXECUTOR_GROUP, CACHE_GROUP}


# The harness side.


def run(settings: dict, progress) -> dict:
    from bench.cli import Workers

    processes, values = settings["processes"], settings["values"]
    calls = CALLS[settings["mode"]]
    redis_url = os.environ.get("REDIS_URL", "")
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    env.pop("DJANGO_SETTINGS_MODULE", None)
    # The executor's cases time threads running side by side: not on one core.
    # The cache's calls hop to a thread and back, as the in-process cases do.
    workers = Workers(env)
    cache_workers = Workers(env, pin=settings.get("pin", False))
    progress.add(2 * processes)
    executor_runs: list[dict] = []
    cache_runs: list[dict] = []
    module = [sys.executable, "-m", "bench.guide_calls"]
    try:
        for process in range(processes):
            out = workers.run(
                [],
                "guide-calls: executor",
                command=[*module, "executor", "--values", str(values)],
            )
            executor_runs.append({"process": process, **json.loads(out)})
            progress.step(f"guide-calls: executor (process {process + 1}/{processes})")
            command = [*module, "cache", "--values", str(values), "--calls", str(calls)]
            out = cache_workers.run([], "guide-calls: cache", command=command)
            cache_runs.append({"process": process, **json.loads(out)})
            progress.step(f"guide-calls: cache (process {process + 1}/{processes})")
    finally:
        workers.stop()
        cache_workers.stop()
    skipped = []
    if not redis_url:
        progress.note("guide-calls: skipped Redis: REDIS_URL is not set")
        skipped.append({"what": "Redis cases", "why": "REDIS_URL is not set"})
    return {
        EXECUTOR_GROUP: executor_group(executor_runs),
        CACHE_GROUP: cache_group(cache_runs, skipped),
    }


def executor_group(records: list[dict]) -> dict:
    first = records[0]
    cases = {}
    for name, label in EXECUTOR_CASES.items():
        runs = [
            {"process": record["process"], "values_us": record["cases"][name]}
            for record in records
        ]
        case = {"label": label, "params": {}, "unit": "us", "runs": runs}
        if name != "one-call":
            case["baseline"] = "one-call"
        cases[name] = case
    return {
        "title": "sync_to_async(thread_sensitive=False) and the default executor",
        "max_workers": first["max_workers"],
        "cpus": first["cpus"],
        "sleep_ms": round(SLEEP_SECONDS * 1000),
        "cases": cases,
    }


def cache_group(records: list[dict], skipped: list[dict]) -> dict:
    cases = {}
    for name, (label, base) in cache_cases().items():
        runs = [
            {
                "process": record["process"],
                "values_us": record["cases"][name]["values_us"],
                "hops": record["cases"][name]["hops"],
            }
            for record in records
            if name in record["cases"]
        ]
        if not runs:
            continue
        # The backend's name, which says whether a call waits on a server.
        params = {"backend": name.rsplit("-", 1)[0]}
        case = {"label": label, "params": params, "unit": "us", "runs": runs}
        if base:
            case["baseline"] = base
        cases[name] = case
    return {
        "title": "One cache call per built-in backend",
        "calls_per_value": records[0]["calls"],
        "skipped": skipped,
        "cases": cases,
    }


# The worker side.


def measure_executor(values: int) -> dict:
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from asgiref.sync import sync_to_async

    # What asyncio builds as the loop's default executor on first use.
    max_workers = ThreadPoolExecutor()._max_workers
    counts = {"one-call": 1, "at-capacity": max_workers, "one-over": max_workers + 1}

    async def slowest(calls: int) -> float:
        started = time.perf_counter()

        async def one() -> float:
            await sync_to_async(time.sleep, thread_sensitive=False)(SLEEP_SECONDS)
            return time.perf_counter() - started

        return max(await asyncio.gather(*(one() for _ in range(calls))))

    async def main() -> dict:
        await slowest(max_workers)  # warm: start every thread of the pool
        results = {name: [] for name in counts}
        for _ in range(values):
            for name, calls in counts.items():
                results[name].append(await slowest(calls) * 1e6)
        return results

    return {
        "max_workers": max_workers,
        "cpus": os.cpu_count(),
        "cases": asyncio.run(main()),
    }


def configure_django(directory: str, redis_url: str) -> dict:
    import django
    from django.conf import settings

    caches = {
        name: {"BACKEND": backend, "KEY_PREFIX": "bench-guide"}
        for name, (backend, _) in BACKENDS.items()
    }
    caches["db"]["LOCATION"] = "bench_cache"
    caches["file"]["LOCATION"] = os.path.join(directory, "cache")
    if redis_url:
        caches["redis"]["LOCATION"] = redis_url
    else:
        del caches["redis"]
    settings.configure(
        DATABASES={
            "default": {
                "ENGINE": "django.db.backends.sqlite3",
                "NAME": os.path.join(directory, "cache.sqlite3"),
            }
        },
        CACHES={"default": caches["locmem"], **caches},
        INSTALLED_APPS=[],
        USE_TZ=True,
    )
    django.setup()
    from django.core.management import call_command

    call_command("createcachetable", verbosity=0)
    return caches


def measure_cache(values: int, calls: int) -> dict:
    import asyncio

    from bench.portable import settle
    from snippets.internals.hops import count_hops

    redis_url = os.environ.get("REDIS_URL", "")
    with tempfile.TemporaryDirectory(prefix="bench-cache-") as directory:
        names = configure_django(directory, redis_url)
        from django.core.cache import caches

        key, value = "service:search", {"status": "up", "open_incidents": 0}
        results = {}
        for name in names:
            if name == "default":
                continue
            backend = caches[name]
            backend.set(key, value, None)

            def sync_value(backend=backend) -> float:
                started = time.perf_counter()
                for _ in range(calls):
                    backend.get(key)
                return (time.perf_counter() - started) / calls * 1e6

            settle()
            sync_value()  # warm
            results[f"{name}-get"] = {
                "values_us": [sync_value() for _ in range(values)],
                "hops": {"sync_to_async": 0, "thread_sensitive": 0},
            }

            async def async_values(backend=backend) -> dict:
                with count_hops() as hops:
                    assert await backend.aget(key) == value
                out = []
                for _ in range(values + 1):  # the first one warms
                    started = time.perf_counter()
                    for _ in range(calls):
                        await backend.aget(key)
                    out.append((time.perf_counter() - started) / calls * 1e6)
                return {"values_us": out[1:], "hops": dict(hops)}

            results[f"{name}-aget"] = asyncio.run(async_values())
            backend.close()
        if redis_url:
            results[NATIVE] = asyncio.run(native_values(redis_url, values, calls))
    return {"calls": calls, "cases": results}


async def native_values(redis_url: str, values: int, calls: int) -> dict:
    import pickle

    import redis.asyncio

    from snippets.internals.hops import count_hops

    client = redis.asyncio.Redis.from_url(redis_url)
    key = "bench-guide:native:service:search"
    # The same bytes Django's backend stores, so that only the client differs.
    await client.set(key, pickle.dumps({"status": "up", "open_incidents": 0}))
    try:
        with count_hops() as hops:
            await client.get(key)
        out = []
        for _ in range(values + 1):
            started = time.perf_counter()
            for _ in range(calls):
                pickle.loads(await client.get(key))
            out.append((time.perf_counter() - started) / calls * 1e6)
    finally:
        await client.delete(key)
        await client.aclose()
    return {"values_us": out[1:], "hops": dict(hops)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.guide_calls")
    parser.add_argument("what", choices=["executor", "cache"])
    parser.add_argument("--values", type=int, default=5)
    parser.add_argument("--calls", type=int, default=CALLS["full"])
    args = parser.parse_args(argv)
    if args.what == "executor":
        record = measure_executor(args.values)
    else:
        record = measure_cache(args.values, args.calls)
    print(json.dumps(record))
    return 0


if __name__ == "__main__":
    sys.exit(main())
