"""Where a request's time goes: the ``attribution`` suite.

A suite (see :mod:`bench.cases`), registered as ``attribution``. Its workers
(:mod:`bench.attribution_worker`, one per process of the run's profile) measure
every request path (sync and async view, ``WSGIHandler`` and ``ASGIHandler``,
no middleware and startproject's seven), each path's core (the same requests
with no bridge and no per-request thread), the parts on their own, and what
each request does: hops, threads, tasks. This module turns that into one
group, ``attribution``:

``cases``
    ``<path>`` (the measured total), ``core-<path>``, ``switched-<path>``
    (the core with a real no-op crossing beside each bridge, for the paths
    with one), ``part-<micro>`` (one part on its own: ``part-hop``,
    ``part-new-context``, ...) and the two removals of the causal check, each
    with its runs; a path's runs carry the counts of its requests.
``breakdown``
    Per path: ``total_us``, ``parts`` (microseconds per request, in
    :data:`PARTS` order), ``counts``, ``explained`` (the parts' sum over the
    total) and ``unattributed_us``. Computed from medians over every value of
    every process, by :func:`breakdown`.
``units``
    One of each counted thing, in microseconds (:func:`unit_costs`).
``causal``
    Per removal: the fall the breakdown predicts, the fall measured, and
    whether it is within :data:`TOLERANCE` (:func:`causal_checks`).
"""

from __future__ import annotations

import json
import statistics
import sys

from bench.attribution_worker import MICROS, MIDDLEWARE, PATHS, REMOVALS, SWITCHED

GROUP = "attribution"
# The suite's own profile, unless the command line names a value: fewer
# processes than the in-process cases, with more and longer values each, keep
# its 34 measurements to about 35 s of a full run (3 x 34 x 0.3 s, and the
# workers' start).
PROFILE = {
    "full": {
        "processes": 3,
        "values": 9,
        "value_seconds": 0.028,
        "warmup_seconds": 0.05,
    },
    "quick": {
        "processes": 1,
        "values": 3,
        "value_seconds": 0.005,
        "warmup_seconds": 0.01,
    },
}

# The parts of a request, in the order the chart stacks them.
PARTS = {
    "handler": "Django's handler",
    "view": "the view",
    "middleware": "the middleware's own work",
    "tasks": "tasks created",
    "hops": "sync_to_async hops",
    "async-to-sync": "async_to_sync with no event loop",
    "switches": "Django's code, slower after each switch",
    "executor-thread": "the request's thread",
    "join-thread": "the join thread at exit",
}
# A removal's measured fall counts as agreeing with the breakdown's prediction
# within this fraction of the prediction. Not tighter: the predictions use the
# parts' costs measured alone, and inside a request, between other code, a
# thread start or a hop can cost more (the page shows this run's figures).
TOLERANCE = 0.3
MIDDLEWARE_LABELS = {"none": "no middleware", "startproject": "startproject's 7"}
MICRO_LABELS = {
    "view-sync": "a trivial sync view, called",
    "view-async": "a trivial async view, awaited",
    "hop": "one thread-sensitive sync_to_async to a running thread, after other work",
    "hop-then-request": "one hop to a running thread, then a request's handler code",
    "new-context": "a ThreadSensitiveContext with its first hop, then a request's"
    " handler code (thread start, join)",
    "join-thread": "a request's handler code, then start a thread and await its"
    " result (the join thread)",
    "async-to-sync": "async_to_sync from a thread with no event loop",
    "task": "create a task and await it",
}
REMOVAL_LABELS = {
    REMOVALS[0]: "async view via ASGIHandler, no per-request ThreadSensitiveContext",
    REMOVALS[1]: "async view via ASGIHandler, startproject's 7 made async-native",
}


SWITCHED_LABEL = "no bridge, each crossing made with a no-op beside it"


def path_names() -> list[str]:
    return [f"{path}-{mw}" for path in PATHS for mw in MIDDLEWARE]


def path_label(name: str) -> str:
    handler, view, middleware = name.split("-", 2)
    handler_class = "WSGIHandler" if handler == "wsgi" else "ASGIHandler"
    return f"{view} view via {handler_class}, {MIDDLEWARE_LABELS[middleware]}"


# Every group/case this suite can record, for _ext/benchdata.py.
KNOWN_CASES = {
    *(f"{GROUP}/{name}" for name in path_names()),
    *(f"{GROUP}/core-{name}" for name in path_names()),
    *(f"{GROUP}/switched-{name}" for name in SWITCHED),
    f"{GROUP}/switched-{REMOVALS[1]}",
    *(f"{GROUP}/part-{name}" for name in MICROS),
    *(f"{GROUP}/{name}" for name in REMOVALS),
    f"{GROUP}/core-{REMOVALS[1]}",
}
KNOWN_GROUPS = {GROUP}


# The harness side.


def run(settings: dict, progress) -> dict:
    from bench.cli import Workers

    explicit = settings.get("explicit", [])
    profile = {
        name: settings[name] if name in explicit else value
        for name, value in PROFILE[settings["mode"]].items()
    }
    processes = profile["processes"]
    command = [sys.executable, "-m", "bench.attribution_worker"]
    for name in ("values", "value_seconds", "warmup_seconds"):
        command += [f"--{name.replace('_', '-')}", str(profile[name])]
    # On one core, as the in-process cases: a hop's cost depends on the core its
    # thread wakes on (bench.cli.Workers).
    workers = Workers(worker_env(), pin=settings.get("pin", False))
    progress.add(processes)
    records = []
    try:
        for process in range(processes):
            out = workers.run([], "attribution", command=command)
            records.append({"process": process, **json.loads(out)})
            progress.step(f"attribution (process {process + 1}/{processes})")
    finally:
        workers.stop()
    return {GROUP: build_group(records)}


def worker_env() -> dict:
    import os

    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return env


def build_group(records: list[dict]) -> dict:
    cases = {}

    def add(name: str, key: str, label: str, params: dict, with_counts=False):
        runs = []
        for record in records:
            item = {
                "process": record["process"],
                "values_us": record["values_us"][key],
                "cpu_us": record["cpu_us"][key],
            }
            if with_counts:
                item["counts"] = record["counts"][name]
            runs.append(item)
        cases[name] = {"label": label, "params": params, "unit": "us", "runs": runs}

    for name in path_names():
        handler, view, middleware = name.split("-", 2)
        params = {"handler": handler, "view": view, "middleware": middleware}
        add(name, f"total/{name}", path_label(name), params, with_counts=True)
        core_label = f"{path_label(name)}: no bridge, no per-request thread"
        add(f"core-{name}", f"core/{name}", core_label, params)
        if name in SWITCHED:
            label = f"{path_label(name)}: {SWITCHED_LABEL}"
            add(f"switched-{name}", f"switched/{name}", label, params)
    for name in MICROS:
        add(f"part-{name}", f"micro/{name}", MICRO_LABELS[name], {"part": name})
    for name in REMOVALS:
        params = {"removal": name}
        add(name, f"removal/{name}", REMOVAL_LABELS[name], params, with_counts=True)
    native = f"core-{REMOVALS[1]}"
    core_label = f"{REMOVAL_LABELS[REMOVALS[1]]}: no bridge, no per-request thread"
    add(native, f"core/{REMOVALS[1]}", core_label, {"removal": REMOVALS[1]})
    label = f"{REMOVAL_LABELS[REMOVALS[1]]}: {SWITCHED_LABEL}"
    add(
        f"switched-{REMOVALS[1]}",
        f"switched/{REMOVALS[1]}",
        label,
        {"removal": REMOVALS[1]},
    )
    counts = {
        name: mean_counts(cases[name]["runs"]) for name in (*path_names(), *REMOVALS)
    }
    group = {
        "title": "Where a request's time goes",
        "django": records[0]["django"],
        "statistic": "median of every value of every process",
        "tolerance": TOLERANCE,
        "cases": cases,
    }
    # "breakdown" and "causal" in wall time; the same "_cpu" in CPU time.
    for clock, suffix in (("values_us", ""), ("cpu_us", "_cpu")):
        rounds = rounds_of(cases, clock)
        medians = {name: statistics.median(values) for name, values in rounds.items()}
        paths = {name: breakdown(name, medians, counts) for name in path_names()}
        group[f"units{suffix}"] = unit_costs(medians)
        group[f"breakdown{suffix}"] = paths
        group[f"causal{suffix}"] = causal_checks(rounds, counts)
    return group


def rounds_of(cases: dict, clock: str) -> dict[str, list[float]]:
    """Each case's values, every process's rounds one after the other."""
    return {
        name: [value for run in case["runs"] for value in run[clock]]
        for name, case in cases.items()
    }


def mean_counts(runs: list[dict]) -> dict:
    keys = runs[0]["counts"]
    return {key: statistics.fmean(run["counts"][key] for run in runs) for key in keys}


def unit_costs(medians: dict) -> dict:
    """Microseconds of one of each counted thing, from the micro cases
    (those present: the causal checks measure only the ones they need).

    The two threads are measured beside a request's handler code (the core
    of the async view under ASGI), which is subtracted.
    """
    request = medians["core-asgi-async-none"]
    join = medians["part-join-thread"] - request
    units = {
        name: medians[f"part-{name}"]
        for name in ("task", "async-to-sync")
        if f"part-{name}" in medians
    }
    return {
        **units,
        "hop": medians["part-hop"],
        "join-thread": join,
        # A new context with its first hop and a request, less a hop to a
        # running thread and the same request, less the join at its exit.
        "executor-thread": medians["part-new-context"]
        - medians["part-hop-then-request"]
        - join,
    }


def switch_cost(name: str, medians: dict, count: dict, unit: dict) -> float:
    """What the switches add to the handler's code: the core switched, less
    the core and the crossings themselves (hops, async_to_sync calls)."""
    if f"switched-{name}" not in medians:
        return 0.0
    crossings = count["sync_to_async"] * unit["hop"]
    if count["async_to_sync"]:
        crossings += count["async_to_sync"] * unit["async-to-sync"]
    return medians[f"switched-{name}"] - medians[f"core-{name}"] - crossings


def breakdown(name: str, medians: dict, counts: dict) -> dict:
    """The parts of one path: see the module docstring and the page."""
    handler, view, middleware = name.split("-", 2)
    count, unit = counts[name], unit_costs(medians)
    bare = f"{handler}-{view}-none"
    tasks = count.get("tasks", 0)
    # Threads an async_to_sync starts are inside its own measured cost.
    context_threads = count["executor_threads"] - count["async_to_sync"]
    parts = {
        "handler": medians[f"core-{bare}"]
        - medians[f"part-view-{view}"]
        - counts[bare].get("tasks", 0) * unit["task"],
        "view": medians[f"part-view-{view}"],
        "middleware": (
            0.0
            if middleware == "none"
            else medians[f"core-{name}"] - medians[f"core-{bare}"]
        ),
        "tasks": tasks * unit["task"],
        "hops": count["sync_to_async"] * unit["hop"],
        "async-to-sync": count["async_to_sync"] * unit["async-to-sync"],
        "switches": switch_cost(name, medians, count, unit),
        "executor-thread": context_threads * unit["executor-thread"],
        "join-thread": count["other_threads"] * unit["join-thread"],
    }
    total = medians[name]
    explained = sum(parts.values())
    return {
        "total_us": total,
        "parts": parts,
        "counts": count,
        "explained": explained / total,
        "unattributed_us": total - explained,
    }


# The measurements the causal checks need, in an order that puts each removal
# next to its path: ``python -m bench.attribution_worker --only ...``.
CAUSAL_MEASUREMENTS = (
    "total/asgi-async-none",
    f"removal/{REMOVALS[0]}",
    "core/asgi-async-none",
    "micro/new-context",
    "micro/hop-then-request",
    "micro/join-thread",
    "micro/hop",
    "total/asgi-async-startproject",
    f"removal/{REMOVALS[1]}",
    "core/asgi-async-startproject",
    f"core/{REMOVALS[1]}",
    "switched/asgi-async-startproject",
    f"switched/{REMOVALS[1]}",
)


def case_name(measurement: str) -> str:
    """The group's name for a worker's measurement (``micro/hop`` -> ``part-hop``)."""
    kind, _, name = measurement.partition("/")
    prefixes = {"core": "core-", "switched": "switched-", "micro": "part-"}
    return prefixes.get(kind, "") + name


def causal_from_record(record: dict, clock: str = "values_us") -> dict:
    """The causal checks from one worker's record (of CAUSAL_MEASUREMENTS)."""
    rounds = {case_name(key): values for key, values in record[clock].items()}
    return causal_checks(rounds, record["counts"])


def _context_parts(unit: dict, count: dict) -> float:
    context_threads = count["executor_threads"] - count["async_to_sync"]
    return (
        context_threads * unit["executor-thread"]
        + count["other_threads"] * unit["join-thread"]
    )


def causal_checks(rounds: dict, counts: dict) -> dict:
    """Remove a part, and compare the fall with what the breakdown says.

    ``rounds`` holds each case's values in round order (every case has one
    value per round of every process), ``counts`` each path's counts. The
    fall is paired by round: each round's path minus the same round's
    removal, the prediction from the same round's micro cases; the check
    compares the medians of both over the rounds, so that a slow spell of a
    shared machine, which slows a whole round, cancels out.
    """
    without_context, native = REMOVALS
    middleware_hops = (
        counts["asgi-async-startproject"]["sync_to_async"]
        - counts["asgi-async-none"]["sync_to_async"]
    )
    plans = {
        without_context: (
            "asgi-async-none",
            "executor-thread and join-thread",
            lambda unit, one: _context_parts(unit, counts["asgi-async-none"]),
        ),
        # The hops go, the mixin's own work gives way to the async-native
        # classes' (each measured in its core), and so does what the switches
        # add to each one's code.
        native: (
            "asgi-async-startproject",
            f"{middleware_hops:g} of the hops, MiddlewareMixin's own work,"
            " and what the switches add to it",
            lambda unit, one: (
                middleware_hops * unit["hop"]
                + one["core-asgi-async-startproject"]
                - one[f"core-{native}"]
                + switch_cost(
                    "asgi-async-startproject",
                    one,
                    counts["asgi-async-startproject"],
                    unit,
                )
                - switch_cost(native, one, counts[native], unit)
            ),
        ),
    }
    checks = {}
    for removal, (path, removed, predict) in plans.items():
        measured, predicted = [], []
        for index in range(len(rounds[path])):
            one = {name: values[index] for name, values in rounds.items()}
            measured.append(one[path] - one[removal])
            predicted.append(predict(unit_costs(one), one))
        check = {
            "path": path,
            "removed": removed,
            "predicted_us": statistics.median(predicted),
            "measured_us": statistics.median(measured),
        }
        ratio = check["measured_us"] / check["predicted_us"]
        check["ratio"] = ratio
        check["agrees"] = abs(ratio - 1) <= TOLERANCE
        checks[removal] = check
    return checks
