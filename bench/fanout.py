"""Where one check-all's time goes: its phases, timed in one process.

A suite (see :mod:`bench.cases`), registered as ``fanout``. It starts the fake
upstream, adds :data:`SERVICES` services that each answer after
:data:`DELAY_SECONDS`, and then, in a worker process (``python -m
bench.fanout``), times each phase of ``check_all_view`` in turn, interleaved,
so that a busy machine slows every case alike. One group, ``fanout``:

- ``raw-floor``: the same GETs from a minimal asyncio client (a fresh
  connection each, no HTTP library): the floor on this machine.
- ``check-all``: :func:`~sampleproject.board.checker.check_all` with the
  project's client (baseline ``raw-floor``).
- ``check-all-keepalive``: the same with a client that keeps half its
  connections alive between runs, as the project did before (baseline
  ``check-all``).
- ``fetch-services``, ``record`` and ``broadcast`` (``forget_tiles`` and the
  ``checks_recorded`` signal): the view's other phases, each value the mean of
  :data:`SHORT_CALLS` calls.

Each run records the thread hops of one ``record()`` (``record_hops``). The
group records ``services`` and ``delay_ms``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import sys
import tempfile
import time
import urllib.parse

GROUP = "fanout"
SERVICES = 50
DELAY_SECONDS = 0.2
# The short phases take a few milliseconds: each of their values is the mean of
# this many calls, so that one scheduling hiccup does not make the value. With
# five, fetch-services's CV was 20% in a full run.
SHORT_CALLS = 20
# Worker processes unless the command line says how many. One takes about 4 s
# (Django's set-up, then rounds of three 200 ms fan-outs and the short
# phases). With the in-process profile's five, the fan-outs' process means
# differed by 0.5-2.4% (CV) in a full run: three still show that spread, for
# about 8 s less.
FULL_PROCESSES = 3
QUICK_PROCESSES = 1  # a smoke run: that every phase runs, not how steadily
CASES = {
    "raw-floor": ("minimal asyncio client, the same GETs", None),
    "check-all": ("check_all(), the project's client", "raw-floor"),
    "check-all-keepalive": ("check_all(), connections kept alive", "check-all"),
    "fetch-services": ("fetch the enabled services", None),
    "record": ("record() the outcomes", None),
    "broadcast": ("forget_tiles() and the checks_recorded signal", None),
}

# Every group/case this suite can record, for _ext/benchdata.py.
KNOWN_CASES = {f"{GROUP}/{name}" for name in CASES}
KNOWN_GROUPS = {GROUP}


# The harness side.


def run(settings: dict, progress) -> dict:
    from bench.cli import Workers
    from bench.servers import fake_upstream, prepare_database, server_env

    processes, values = processes_for(settings), settings["values"]
    progress.add(processes)
    runs: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="bench-fanout-") as directory:
        db = os.path.join(directory, "db.sqlite3")
        env = server_env(db)
        with fake_upstream(env) as upstream:
            prepare_database(db, upstream, env)
            workers = Workers(env)
            command = [sys.executable, "-m", "bench.fanout", "--values", str(values)]
            try:
                for process in range(processes):
                    out = workers.run([], "fanout", command=command)
                    runs.append({"process": process, **json.loads(out)})
                    progress.step(f"fanout: process {process + 1}/{processes}")
            finally:
                workers.stop()
    return {GROUP: group(runs)}


def processes_for(settings: dict) -> int:
    """The profile's processes, at most :data:`FULL_PROCESSES` (or
    :data:`QUICK_PROCESSES` with ``--quick``) unless given explicitly."""
    if "processes" in settings.get("explicit", []):
        return settings["processes"]
    quick = settings.get("mode") == "quick"
    return min(settings["processes"], QUICK_PROCESSES if quick else FULL_PROCESSES)


def group(records: list[dict]) -> dict:
    from bench.stats import hop_count

    cases = {}
    for name, (label, baseline) in CASES.items():
        runs = [
            {"process": record["process"], "values_us": record["cases"][name]}
            for record in records
        ]
        params = {}
        if name in records[0]["phase_hops"]:
            params["hops"] = hop_count(records[0]["phase_hops"][name])
        cases[name] = {"label": label, "params": params, "unit": "us", "runs": runs}
        if baseline:
            cases[name]["baseline"] = baseline
    return {
        "title": "The phases of one check-all",
        "services": SERVICES,
        "delay_ms": round(DELAY_SECONDS * 1000),
        "short_calls": SHORT_CALLS,
        "record_hops": records[0]["record_hops"],
        "cases": cases,
    }


# The worker side.


async def raw_floor(url: str, count: int) -> None:
    """``count`` GETs at once, each on a new connection, read to the end."""
    parts = urllib.parse.urlsplit(url)
    request = (
        f"GET {parts.path}?{parts.query} HTTP/1.1\r\n"
        f"Host: {parts.netloc}\r\nConnection: close\r\n\r\n"
    ).encode()

    async def one() -> None:
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        writer.write(request)
        await reader.read()
        writer.close()
        await writer.wait_closed()

    await asyncio.gather(*(one() for _ in range(count)))


async def measure(values: int) -> dict:
    import httpx
    from django.conf import settings
    from django.db.models import Max

    from bench.portable import settle
    from sampleproject.board.checker import check_all
    from sampleproject.board.httpclient import make_async_client, ssl_context
    from sampleproject.board.models import Check, Service
    from sampleproject.board.recording import record
    from sampleproject.board.signals import checks_recorded
    from sampleproject.board.state import forget_tiles
    from sampleproject.board.urlsafety import GuardedTransport
    from snippets.internals.hops import count_hops

    maximum = settings.BOARD_MAX_CONNECTIONS
    kept = httpx.Limits(max_connections=maximum, max_keepalive_connections=maximum // 2)
    clients = {
        "check-all": make_async_client(),
        "check-all-keepalive": make_async_client(
            GuardedTransport(limits=kept, verify=ssl_context())
        ),
    }
    out: dict[str, list[float]] = {name: [] for name in CASES}
    hops: dict = {}

    def timed(name: str, started: float, calls: int = 1) -> None:
        out[name].append((time.perf_counter() - started) / calls * 1e6)

    async def short(name: str, call):
        """Time ``SHORT_CALLS`` calls of a short phase; the last call's result."""
        # Each short phase pays for its own garbage, not for the phase's before
        # it (the fan-out's, say): collecting what that left is not timed.
        gc.collect()
        started = time.perf_counter()
        for _ in range(SHORT_CALLS):
            result = await call()
        timed(name, started, SHORT_CALLS)
        return result

    async def hops_of(call) -> dict:
        with count_hops() as counted:
            await call()
        return dict(counted)

    async def fetch_services():
        return [s async for s in Service.objects.filter(enabled=True)]

    async def record_outcomes():
        return await record(outcomes)

    async def broadcast():
        await forget_tiles()
        await checks_recorded.asend(sender=Service, outcomes=outcomes, changes=changes)

    settle()
    try:
        for _ in range(values + 1):  # the first round warms
            services = await short("fetch-services", fetch_services)
            started = time.perf_counter()
            await raw_floor(services[0].url, len(services))
            timed("raw-floor", started)
            for name, client in clients.items():
                started = time.perf_counter()
                outcomes = await check_all(services, 30, client)
                timed(name, started)
                if not all(outcome.ok for outcome in outcomes):
                    raise RuntimeError(f"{name}: a check failed")
            newest = (await Check.objects.aaggregate(newest=Max("pk")))["newest"]
            with count_hops() as counted:
                changes = await record(outcomes)
            hops = dict(counted)
            await short("record", record_outcomes)
            # Each call adds a check per service: left in, the table grew all
            # run long and record()'s values with it (3.7 ms to 5.3 ms in a
            # full run). Deleted, every round writes into a table of one size.
            await Check.objects.filter(pk__gt=newest or 0).adelete()
            await short("broadcast", broadcast)
        # The hops of one call of each short phase, untimed: a hop wakes
        # another thread, which is what makes such a phase's values spread
        # in an unpinned process (bench.stats.HAND_OFF).
        phase_hops = {
            "fetch-services": await hops_of(fetch_services),
            "record": hops,
            "broadcast": await hops_of(broadcast),
        }
    finally:
        for client in clients.values():
            await client.aclose()
    return {
        "cases": {name: found[1:] for name, found in out.items()},
        "record_hops": hops,
        "phase_hops": phase_hops,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fanout")
    parser.add_argument("--values", type=int, default=5)
    args = parser.parse_args(argv)
    if args.values < 1:
        parser.error("--values must be at least 1")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.server_settings")
    import django

    django.setup()
    print(json.dumps(asyncio.run(measure(args.values))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
