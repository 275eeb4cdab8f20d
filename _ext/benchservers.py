"""The server benchmarks' figures, tables and plots, for :mod:`_ext.benchdata`.

The ``servers`` suite (``bench/servers.py``) records cases in units other
than microseconds: ``requests/s`` (wrk's cases) and ``streams`` (the event
stream cases). :mod:`_ext.benchdata` hands those cases here.

Role fields of a ``requests/s`` case: ``rps`` (mean requests per second),
``p50``, ``p90``, ``p99`` (latency, the median over the runs), ``latency`` (the
mean latency), ``share`` (the ratio to the raw app's requests per second, as a
percentage) and ``times`` (how many times as many requests the raw app
served), ``lag50``, ``lag99`` and ``lagmax`` (the worker's event-loop lag
while wrk ran, ASGI cases only), ``version`` (of the package that provides
the server, recorded by runs since daphne, hypercorn and gevent were added),
besides the usual ``mean``, ``median``, ``stdev``, ``min``, ``max``, ``cv``,
``n`` and ``ratio``.

A results file from before the suite recorded loop lag has none in any case of
the group: its lag figures render as "not in this run", as a case the harness
defines but an older file lacks does (:class:`_ext.benchdata.NotMeasured`).

Role fields of a ``streams`` case: ``held`` (the most streams served at once),
``target`` (the most opened), ``rss`` and ``threads`` (per stream served),
``probe`` (how long a plain request took with every stream open), ``at`` (the
step the per-stream figures come from), ``workerthreads`` (the worker's OS
threads at the last step) and, for the stream recipe's cases
(``bench/stream_recipe.py``), ``event50``, ``event99`` and ``eventmax`` (how
long one event took to reach the open streams).

Tables (``bench-table``): ``servers-trivial``, ``servers-sleep``,
``servers-check-all``, ``servers-sse``. Plots (``bench-plot``):
``servers-trivial``, ``servers-sleep``, ``servers-sse``.
"""

from __future__ import annotations

from docutils import nodes

from _ext import svgplot

UNITS = ("requests/s", "streams")
NBSP = "\u00a0"
TIMES = "\u00d7"
STAT_FIELDS = ("mean", "median", "stdev", "min", "max")
LATENCY_FIELDS = ("p50", "p90", "p99")
LAG_FIELDS = {"lag50": "p50", "lag99": "p99", "lagmax": "max"}
# Fields of a streams case that times one event on every open stream
# (bench/stream_recipe.py): field -> key of its ``event_ms``.
EVENT_FIELDS = {"event50": "p50", "event99": "p99", "eventmax": "max"}
SERVER_ORDER = (
    "gunicorn-sync",
    "gunicorn-gthread",
    "uvicorn",
    "gunicorn-uvicorn",
    "granian",
    "gunicorn-gevent",
    "daphne",
    "hypercorn",
)


# Formatting.


def format_rate(value: float) -> str:
    digits = 0 if value >= 100 else 1 if value >= 1 else 2
    return f"{value:,.{digits}f}{NBSP}requests/s"


def format_ms(value: float) -> str:
    if value >= 1000:
        return f"{value / 1000:,.1f}{NBSP}s"
    digits = 0 if value >= 100 else 1
    return f"{value:,.{digits}f}{NBSP}ms"


def format_kib(value: float) -> str:
    return f"{value:,.0f}{NBSP}KiB"


def format_mib(value: int) -> str:
    return f"{value / 2**20:,.1f}{NBSP}MiB"


def known_cases() -> set[str]:
    """Every ``group/case`` the servers suite defines, for :mod:`_ext.benchdata`."""
    from bench import servers

    everything = list(servers.SERVERS)
    cases = [*servers.wrk_cases("full", everything), *servers.SSE_CASES]
    return {case.key for case in cases}


def lag_figure(group: str, name: str, case: dict, field: str, cases: dict) -> str:
    lag = case.get("loop_lag_ms")
    if lag is None:
        if not any("loop_lag_ms" in other for other in cases.values()):
            from _ext.benchdata import NotMeasured

            raise NotMeasured(f"case {group}/{name} has no loop lag")
        raise LookupError(
            f"case {group}/{name} has no loop lag: only ASGI cases record it"
        )
    value = lag[LAG_FIELDS[field]]
    if value is None:
        raise LookupError(f"case {group}/{name} took no loop-lag samples")
    return format_ms(value)


def figure(
    group: str, name: str, case: dict, field: str, cases: dict | None = None
) -> tuple[str, bool]:
    """The formatted figure of a server case and whether it is unstable."""
    if field == "version":
        version = case["params"].get("version")
        if version is None:
            raise LookupError(f"case {group}/{name} records no server version")
        return version, False
    if case["unit"] == "streams":
        return stream_figure(group, name, case, field), False
    if field in LAG_FIELDS:
        return lag_figure(group, name, case, field, cases or {name: case}), False
    unstable = case["unstable"]
    if field == "rps":
        return format_rate(case["stats"]["mean"]), unstable
    if field in STAT_FIELDS:
        return format_rate(case["stats"][field]), unstable
    if field == "cv":
        return f"{case['stats']['cv']:.1%}", unstable
    if field == "n":
        return str(case["stats"]["n"]), False
    if field in LATENCY_FIELDS:
        return format_ms(case["latency_ms"][field]), False
    if field == "latency":
        return format_ms(case["latency_ms"]["mean"]), False
    if field in ("ratio", "share", "times"):
        ratio = case.get("ratio")
        if ratio is None:
            raise LookupError(f"case {group}/{name} has no {field!r} figure")
        value = ratio["value"]
        if field == "share":
            text = f"{value:.1%}" if value < 0.1 else f"{value:.0%}"
        elif field == "times":
            text = f"{1 / value:,.1f}{TIMES}" if value else "—"
        else:
            text = f"{value:.2f}{TIMES}"
        return text, ratio["unstable"]
    raise LookupError(
        f"unknown field {field!r} for a requests/s case: use one of rps,"
        f" {', '.join(LATENCY_FIELDS)}, latency, share, times, ratio,"
        f" {', '.join(LAG_FIELDS)}, {', '.join(STAT_FIELDS)}, cv, n"
    )


def stream_figure(group: str, name: str, case: dict, field: str) -> str:
    steps = case["steps"]
    per_stream = case.get("per_stream") or {}
    if field == "held":
        return f"{max(step['held'] for step in steps):,}"
    if field == "target":
        return f"{steps[-1]['target']:,}"
    if field in ("rss", "threads", "at"):
        if not per_stream:
            raise LookupError(f"case {group}/{name} has no per-stream figures")
        if field == "rss":
            return format_kib(per_stream["rss_kib"])
        if field == "threads":
            return f"{per_stream['threads']:.2f}"
        return f"{per_stream['at']:,}"
    if field == "workerthreads":
        return f"{steps[-1]['threads']:,}"
    if field in EVENT_FIELDS:
        event = case.get("event_ms")
        if event is None:
            raise LookupError(f"case {group}/{name} timed no event")
        return format_ms(event[EVENT_FIELDS[field]])
    if field == "probe":
        probe = steps[-1].get("probe_ms")
        if probe is None:
            limit = case["params"].get("probe_timeout_seconds", 1)
            return f"no answer within {limit:g}{NBSP}s"
        return format_ms(probe)
    raise LookupError(
        f"unknown field {field!r} for a streams case: use one of held, target,"
        f" rss, threads, workerthreads, at, probe, {', '.join(EVENT_FIELDS)}"
    )


# Tables. Each builder takes the ``BenchTable`` directive (for its ``cell``,
# which flags unstable figures) and the loaded ``Data``.


def _text(text: str) -> list[nodes.Node]:
    return [nodes.Text(text)]


def _ordered(cases: dict) -> list[tuple[str, dict]]:
    def key(item):
        server = item[1]["params"]["server"]
        order = SERVER_ORDER.index(server) if server in SERVER_ORDER else 99
        return (order, item[1]["params"].get("app") != "raw", item[0])

    return sorted(cases.items(), key=key)


def _server_label(case: dict) -> str:
    return case["label"].split(" on ", 1)[1]


def _app_label(case: dict) -> str:
    return case["label"].split(" on ", 1)[0]


def lag_cell(case: dict) -> list[nodes.Node]:
    """``p50 / p99`` of the loop lag; a dash for WSGI or data without it."""
    lag = case.get("loop_lag_ms")
    if not lag or lag["p50"] is None:
        return _text("—")
    return _text(f"{format_ms(lag['p50'])} / {format_ms(lag['p99'])}")


def load_table(directive, data, group: str, build_table) -> nodes.table:
    rows = []
    for name, case in _ordered(data.group(group)["cases"]):
        spread = directive.cell(data, group, name, "rps")
        stdev, _ = data.figure(group, name, "stdev")
        share = (
            directive.cell(data, group, name, "share")
            if "ratio" in case
            else _text("—")
        )
        rows.append(
            [
                _text(_server_label(case)),
                _text(_app_label(case)),
                [*spread, nodes.Text(f" ± {stdev.split(NBSP)[0]}")],
                directive.cell(data, group, name, "p50"),
                directive.cell(data, group, name, "p99"),
                share,
                lag_cell(case),
            ]
        )
    header = [
        "Server (1 worker)",
        "App",
        "Requests per second, mean ± standard deviation",
        "Latency p50",
        "Latency p99",
        "Share of the raw app's requests/s",
        "Event-loop lag p50 / p99",
    ]
    title = data.group(group)["title"]
    return build_table(title, header, rows)


def check_all_table(directive, data, group: str, build_table) -> nodes.table:
    rows = []
    for name, case in _ordered(data.group(group)["cases"]):
        view = (
            "async view, all at once"
            if case["params"]["view"] == "async"
            else ("sync twin, one after another")
        )
        rows.append(
            [
                [nodes.literal(text=case["params"]["path"])],
                _text(view),
                _text(_server_label(case)),
                directive.cell(data, group, name, "latency"),
                directive.cell(data, group, name, "n"),
                lag_cell(case),
            ]
        )
    header = [
        "URL",
        "View",
        "Server (1 worker)",
        "Time per request",
        "Runs",
        "Event-loop lag p50 / p99",
    ]
    return build_table(data.group(group)["title"], header, rows)


def sse_table(directive, data, group: str, build_table) -> nodes.table:
    rows = []
    for _, case in _ordered(data.group(group)["cases"]):
        for step in case["steps"][1:]:
            probe = step.get("probe_ms")
            rows.append(
                [
                    _text(case["label"]),
                    _text(f"{step['target']:,}"),
                    _text(f"{step['held']:,}"),
                    _text(format_mib(step["rss_bytes"])),
                    _text(f"{step['threads']:,}"),
                    _text("no answer" if probe is None else format_ms(probe)),
                ]
            )
    header = [
        "Stream view and server (1 worker)",
        "Streams opened",
        "Streams served",
        "Worker memory (VmRSS)",
        "Worker OS threads",
        "A plain request meanwhile",
    ]
    return build_table(data.group(group)["title"], header, rows)


TABLES = {
    "servers-trivial": load_table,
    "servers-sleep": load_table,
    "servers-check-all": check_all_table,
    "servers-sse": sse_table,
}


# Plots.


def natural_view(case: dict) -> str:
    """The view a server's own interface runs: sync under WSGI, async under ASGI."""
    return "sync" if case["params"]["interface"] == "wsgi" else "async"


def load_plot(data, group: str) -> tuple[list[str], list[svgplot.Series]]:
    """Requests per second of the raw app and of Django, a row per server."""
    cases = data.group(group)["cases"]
    raw = [cases[f"{s}.raw"] for s in SERVER_ORDER if f"{s}.raw" in cases]
    if not raw:
        raise LookupError(f"group {group!r} has no raw-app cases")
    django = [
        cases.get(f"{case['params']['server']}.{natural_view(case)}-view")
        for case in raw
    ]
    series = []
    for number, (label, row) in enumerate((("raw app", raw), ("Django", django))):
        values = [case["stats"]["mean"] if case else None for case in row]
        texts = [f"{value:,.0f}" if value else None for value in values]
        series.append(
            svgplot.Series(label, values, color=number, dash=number, labels=texts)
        )
    return [_server_label(case) for case in raw], series


def sse_plot(data, group: str = "servers-sse") -> tuple[list[str], list]:
    """The worker's OS threads at each step, a line per stream view."""
    cases = [case for _, case in _ordered(data.group(group)["cases"])]
    if not cases:
        raise LookupError(f"group {group!r} has no cases")
    targets = sorted({step["target"] for case in cases for step in case["steps"]})
    series = []
    for number, case in enumerate(cases):
        threads = {step["target"]: step["threads"] for step in case["steps"]}
        values = [threads.get(target) for target in targets]
        series.append(
            svgplot.Series(
                case["label"], values, color=number, dash=number, marker=number
            )
        )
    return [f"{target:,}" for target in targets], series


def tables(directive, build_table) -> dict:
    """``bench-table`` builders, as :class:`_ext.benchdata.BenchTable` calls them."""
    return {
        name: (lambda data, n=name, f=function: f(directive, data, n, build_table))
        for name, function in TABLES.items()
    }


# name: (what gives the data, chart kind, title, x axis label, y axis label),
# as in :data:`_ext.benchdata.PLOTS`.
RATE_AXIS = "requests per second, 1 worker (more is better)"
PLOTS = {
    "servers-trivial": (
        lambda data: load_plot(data, "servers-trivial"),
        svgplot.bars,
        "A trivial view: requests per second, 50 connections",
        RATE_AXIS,
        "",
    ),
    "servers-sleep": (
        lambda data: load_plot(data, "servers-sleep"),
        svgplot.bars,
        "A view that waits 50 ms: requests per second, 50 connections",
        RATE_AXIS,
        "",
    ),
    "servers-sse": (
        sse_plot,
        svgplot.lines,
        "OS threads of the worker process, by event streams opened",
        "event streams opened",
        "OS threads of the worker",
    ),
}
