"""The decision guide's figures, through real servers: ``--only decide``.

A suite (see :mod:`bench.cases`), registered as ``decide``. It reuses the
servers suite's machinery (:mod:`bench.servers`: one worker per server, the
Django app with ``startproject``'s middleware, ``wrk`` for the load, the
worker's event-loop lag) and returns two groups:

``decide-breakeven``
    A view that waits on I/O for :data:`WAITS_MS` milliseconds (``time.sleep``
    in a sync view on gunicorn's gthread worker, ``await asyncio.sleep`` in an
    async view on uvicorn), with :data:`CONNECTIONS` requests at once. Case
    ``<server>.<view>-view.<wait>ms.c<connections>``, e.g.
    ``uvicorn.async-view.100ms.c200``; the uvicorn case's ``ratio`` is its
    requests per second over gthread's at the same wait and concurrency. The
    break-even (the shortest wait from which async serves more, or answers
    sooner) is derived from these cases at build time, by
    :mod:`_ext.benchdecide`.

``decide-cpu``
    A view that computes for :data:`CPU_MS` ms of CPU time, loaded by
    :data:`CPU_CONNECTIONS` connections, and beside it a trivial request, one
    at a time: how long does the trivial request wait? Each setup in
    :data:`CPU_SETUPS` has two cases: ``<setup>.alone`` (the trivial request
    with no load, the baseline) and ``<setup>.beside-cpu`` (the same while the
    computing view is loaded; its ``load`` key holds the computing view's own
    requests per second and latency). The figures of a case (``rps``,
    ``p50``, ``p99``, ``lag99``) are the trivial request's.

Each group has its own profile (:data:`PROFILES`); the first case on each
server is warmed up, the rest follow at once. ``--quick`` runs nothing: a
server run takes seconds, not a smoke test's budget. Without ``wrk`` or a
server package the cases are listed under the group's ``skipped``; every
server started is stopped whatever happens
(:func:`bench.servers.running_server`).
"""

from __future__ import annotations

import concurrent.futures
import math
import os
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

BREAKEVEN_GROUP = "decide-breakeven"
CPU_GROUP = "decide-cpu"
GROUPS = {
    BREAKEVEN_GROUP: "How long a view waits, against how many requests at once",
    CPU_GROUP: "A trivial request beside a view that computes",
}

# The break-even grid: milliseconds each request waits, requests at once.
WAITS_MS = (0, 20, 50, 100, 250)
CONNECTIONS = (10, 200)
# The two contenders: each server with the view its interface runs natively.
CONTENDERS = {"gunicorn-gthread": "sync", "uvicorn": "async"}
SYNC_SERVER, ASYNC_SERVER = "gunicorn-gthread", "uvicorn"

CPU_MS = 20
CPU_CONNECTIONS = 2  # computing requests at once: one worker is saturated
TRIVIAL_CONNECTIONS = 1  # the other request, one at a time


@dataclass(frozen=True)
class CpuSetup:
    name: str
    server: str
    compute: str  # the computing view's kind, in /compute/<kind>/<ms>/
    trivial: str  # "sync" or "async": the other request's view
    label: str


CPU_SETUPS = {
    setup.name: setup
    for setup in (
        CpuSetup(
            "uvicorn.async-view",
            "uvicorn",
            "async",
            "async",
            "an async view computes on the event loop",
        ),
        CpuSetup(
            "uvicorn.async-view-thread",
            "uvicorn",
            "async-thread",
            "async",
            "an async view sends the computation to a thread",
        ),
        CpuSetup(
            "uvicorn.sync-view",
            "uvicorn",
            "sync",
            "async",
            "a sync view computes, under ASGI (in a thread)",
        ),
        CpuSetup(
            "gunicorn-gthread.sync-view",
            "gunicorn-gthread",
            "sync",
            "sync",
            "a sync view computes, under WSGI",
        ),
    )
}

# The suite's own profiles, per group: the in-process one (tenths of a second
# per value) is too short for a load generator. A break-even run lasts 2 s, so
# that a request waiting 250 ms behind 150 others (about 1 s) still completes
# inside it. Values given on the command line override both.
PROFILES = {
    BREAKEVEN_GROUP: {"values": 2, "value_seconds": 2, "warmup_seconds": 0.5},
    CPU_GROUP: {"values": 2, "value_seconds": 1, "warmup_seconds": 0.5},
}
# A break-even point with a short wait and no queue lasts 1 s instead. A
# connection completes whole requests only, so a run counts floor(run / wait)
# per connection: at 50 ms that is 19 in 1 s and 38 in 2 s (the same rate), at
# 250 ms 3 and 7 (a rate 14% lower in 1 s). With more connections than
# gthread's threads, requests queue, and the slowest of them (over 1 s at
# p99) do not finish inside a 1 s run: measured so, the p99 at 0 ms and 200
# connections halved. Those points keep the profile's 2 s.
SHORT_RUN_MAX_WAIT_MS = 50
SHORT_RUN_MAX_CONNECTIONS = 50  # GTHREAD_THREADS (bench.servers): no queue
SHORT_RUN_SECONDS = 1


@dataclass(frozen=True)
class WaitCase:
    """One point of the break-even grid, shaped as :func:`servers.measure` reads."""

    server: str
    wait_ms: int
    connections: int
    group: str = BREAKEVEN_GROUP
    app: str = "django"
    method: str = "GET"

    @property
    def view(self) -> str:
        return CONTENDERS[self.server]

    @property
    def path(self) -> str:
        return f"/wait/{self.view}/{self.wait_ms}/"

    @property
    def name(self) -> str:
        return case_name(self.server, self.wait_ms, self.connections)

    @property
    def key(self) -> str:
        return f"{self.group}/{self.name}"

    @property
    def baseline(self) -> str | None:
        if self.server == SYNC_SERVER:
            return None
        return case_name(SYNC_SERVER, self.wait_ms, self.connections)

    @property
    def label(self) -> str:
        from bench.servers import SERVERS

        return (
            f"Django, {self.view} view waiting {self.wait_ms} ms,"
            f" {self.connections} connections, on {SERVERS[self.server].label}"
        )

    def params(self) -> dict:
        from bench.servers import GTHREAD_THREADS, SERVERS, WORKERS

        threads = {"threads": GTHREAD_THREADS} if self.server == SYNC_SERVER else {}
        return {
            "server": self.server,
            "interface": SERVERS[self.server].interface,
            "app": self.app,
            "view": self.view,
            "path": self.path,
            "method": self.method,
            "connections": self.connections,
            "wait_ms": self.wait_ms,
            "workers": WORKERS,
            **threads,
        }


def case_name(server: str, wait_ms: int, connections: int) -> str:
    return f"{server}.{CONTENDERS[server]}-view.{wait_ms}ms.c{connections}"


def wait_cases() -> list[WaitCase]:
    return [
        WaitCase(server, wait, connections)
        for server in CONTENDERS
        for connections in CONNECTIONS
        for wait in WAITS_MS
    ]


# Every group/case this suite can record, for _ext/benchdata.py.
KNOWN_CASES = frozenset(
    [
        *(case.key for case in wait_cases()),
        *(
            f"{CPU_GROUP}/{setup}.{kind}"
            for setup in CPU_SETUPS
            for kind in ("alone", "beside-cpu")
        ),
    ]
)
KNOWN_GROUPS = frozenset(GROUPS)


def profile_for(settings: dict, group: str) -> dict:
    profile = dict(PROFILES[group])
    explicit = settings.get("explicit", [])
    if "values" in explicit:
        profile["values"] = settings["values"]
    for name in ("value_seconds", "warmup_seconds"):
        if name in explicit:  # wrk measures whole seconds
            profile[name] = max(1, math.ceil(settings[name]))
    return profile


def run_profile(case: WaitCase, profile: dict, settings: dict) -> dict:
    """``profile`` with a shorter run for a short wait with no queue, unless the
    run length is given explicitly."""
    explicit = "value_seconds" in settings.get("explicit", [])
    queued = case.connections > SHORT_RUN_MAX_CONNECTIONS
    if explicit or queued or case.wait_ms > SHORT_RUN_MAX_WAIT_MS:
        return profile
    return {**profile, "value_seconds": SHORT_RUN_SECONDS}


# The CPU-bound view.


def measure_beside(
    setup: CpuSetup, running, profile: dict, wrk: str, *, loaded: bool
) -> dict:
    """The trivial request's figures, alone or while the computing view is loaded."""
    from bench import loop_lag, servers, stats

    trivial = f"/trivial/{setup.trivial}/"
    computing = f"/compute/{setup.compute}/{CPU_MS}/"
    asgi = servers.SERVERS[setup.server].interface == "asgi"
    seconds = profile["value_seconds"]
    runs, loads, lag = [], [], []

    def one_run(seconds: float) -> tuple[dict, dict | None]:
        if asgi:
            servers.lag_samples(running)  # starts the worker's list afresh
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            load = None
            if loaded:
                load = pool.submit(
                    servers.run_wrk,
                    wrk,
                    running.base_url + computing,
                    connections=CPU_CONNECTIONS,
                    seconds=seconds,
                )
                time.sleep(0.1)  # the computing requests are in before we time
            result = servers.run_wrk(
                wrk,
                running.base_url + trivial,
                connections=TRIVIAL_CONNECTIONS,
                seconds=seconds,
            )
            load_result = load.result() if load else None
        if asgi:
            lag.extend(servers.lag_samples(running))
        servers.drain(running, trivial)
        return result, load_result

    if profile["warmup_seconds"] and not loaded:
        one_run(profile["warmup_seconds"])
        lag.clear()
    for _ in range(profile["values"]):
        result, load = one_run(seconds)
        runs.append(result)
        if load:
            loads.append(load)
    for run in [*runs, *loads]:
        if run["requests"] == 0 or run["errors"]["status"]:
            raise servers.BenchError(
                f"{CPU_GROUP}/{setup.name}: {run['requests']} responses in"
                f" {run['seconds']} s, errors {run['errors']}"
            )
    rates = [run["requests_per_second"] for run in runs]
    summary = stats.summarize(rates)
    kind = "beside-cpu" if loaded else "alone"
    what = f"while {setup.label}" if loaded else f"alone ({setup.label} when loaded)"
    result = {
        "label": f"a trivial request {what} on {servers.SERVERS[setup.server].label}",
        "params": {
            "server": setup.server,
            "interface": servers.SERVERS[setup.server].interface,
            "app": "django",
            "view": setup.trivial,
            "path": trivial,
            "connections": TRIVIAL_CONNECTIONS,
            "compute_path": computing,
            "compute_connections": CPU_CONNECTIONS if loaded else 0,
            "cpu_ms": CPU_MS,
            "workers": servers.WORKERS,
            "seconds": seconds,
            "values": profile["values"],
        },
        "unit": "requests/s",
        "wrk_runs": runs,
        "stats": summary,
        "unstable": summary["cv"] > stats.CV_THRESHOLD,
        "latency_ms": median_latency(runs),
        "errors": {
            name: sum(run["errors"][name] for run in runs) for name in runs[0]["errors"]
        },
    }
    if loads:
        result["load"] = {
            "requests_per_second": statistics.fmean(
                run["requests_per_second"] for run in loads
            ),
            "latency_ms": median_latency(loads),
        }
    if asgi:
        result["loop_lag_ms"] = {
            **loop_lag.summarize(lag),
            "probe_interval_ms": loop_lag.PROBE_INTERVAL * 1000,
        }
    if loaded:
        result["baseline"] = f"{setup.name}.alone"
    result["kind"] = kind
    return result


def median_latency(runs: list[dict]) -> dict:
    return {
        key: statistics.median(run["latency_ms"][key] for run in runs)
        for key in ("p50", "p90", "p99", "mean")
    }


# The suite.


def run(settings: dict, progress) -> dict:
    """The ``decide`` suite: see the module docstring."""
    if settings.get("mode", "full") == "quick":
        return {}
    from bench import servers

    started = time.monotonic()
    profiles = {group: profile_for(settings, group) for group in GROUPS}
    groups = {
        name: {"title": title, "cases": {}, "skipped": []}
        for name, title in GROUPS.items()
    }

    def skip(group: str, what: str, why: str) -> None:
        groups[group]["skipped"].append({"what": what, "why": why})
        progress.note(f"decide: skipped {what}: {why}")

    plan: dict[str, list] = {}  # server: its cases, in order
    for case in wait_cases():
        plan.setdefault(case.server, []).append(case)
    for setup in CPU_SETUPS.values():
        plan.setdefault(setup.server, []).append(setup)

    wrk = shutil.which(os.environ.get("BENCH_WRK", "wrk"))
    for server in list(plan):
        why = None
        if wrk is None:
            why = "wrk not found (apt-get install wrk)"
        elif not servers.SERVERS[server].available():
            why = f"{servers.SERVERS[server].package} is not installed"
        if why:
            for item in plan.pop(server):
                group = item.group if isinstance(item, WaitCase) else CPU_GROUP
                skip(group, item.name, why)
    progress.add(
        sum(1 if isinstance(i, WaitCase) else 2 for c in plan.values() for i in c)
    )

    with tempfile.TemporaryDirectory(prefix="bench-decide-") as tmp:
        env = servers.server_env(str(Path(tmp) / "decide.sqlite3"))
        for server, items in plan.items():
            progress.show(f"decide: starting {server}")
            with servers.start(server, "django", env) as running:
                # One warm-up per server: its cases follow one another at once.
                warmed = False
                for item in items:
                    group = item.group if isinstance(item, WaitCase) else CPU_GROUP
                    profile = profiles[group]
                    if warmed:
                        profile = {**profile, "warmup_seconds": 0}
                    warmed = True
                    if isinstance(item, WaitCase):
                        progress.show(f"decide: {item.key}")
                        profile = run_profile(item, profile, settings)
                        result = servers.measure(item, running, profile, wrk)
                        groups[group]["cases"][item.name] = result
                        report(progress, item.key, result)
                        continue
                    for loaded in (False, True):
                        kind = "beside-cpu" if loaded else "alone"
                        key = f"{CPU_GROUP}/{item.name}.{kind}"
                        progress.show(f"decide: {key}")
                        result = measure_beside(
                            item, running, profile, wrk, loaded=loaded
                        )
                        groups[CPU_GROUP]["cases"][f"{item.name}.{kind}"] = result
                        report(progress, key, result)

    common = {
        "software": servers.versions(),
        "setup": {
            "workers": servers.WORKERS,
            "gthread_threads": servers.GTHREAD_THREADS,
            "wrk_threads": 1,
            "wrk": servers.wrk_version(wrk) if wrk else None,
            "waits_ms": list(WAITS_MS),
            "connections": list(CONNECTIONS),
            "cpu_ms": CPU_MS,
            "cpu_connections": CPU_CONNECTIONS,
            "short_runs": {
                "max_wait_ms": SHORT_RUN_MAX_WAIT_MS,
                "max_connections": SHORT_RUN_MAX_CONNECTIONS,
                "seconds": SHORT_RUN_SECONDS,
            },
        },
        "duration_seconds": round(time.monotonic() - started, 1),
    }
    for name, group in groups.items():
        group["setup"] = {**common["setup"], "profile": profiles[name]}
    return {
        name: {**common, **group}
        for name, group in groups.items()
        if group["cases"] or group["skipped"]
    }


def report(progress, key: str, result: dict) -> None:
    rate, p99 = result["stats"]["mean"], result["latency_ms"]["p99"]
    progress.step(f"{key} {rate:,.1f} req/s, p99 {p99:,.1f} ms")
