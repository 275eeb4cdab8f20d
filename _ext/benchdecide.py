"""The decision guide's plots and break-even, from the ``decide`` suite's data.

The ``decide`` suite (``bench/decide.py``) measures a view that waits, on
gunicorn's gthread worker (sync view) and on uvicorn (async view), at several
waits and concurrencies. This extension, set up by :mod:`_ext.benchdata`,
turns those cases into what the decision guide shows:

````md
```{decide-plot} breakeven-rps
:alt: Requests per second against the wait, a line per server and concurrency
```

With 200 at once, async serves more {decide}`breakeven/200/rps`.
````

``decide-plot`` draws ``breakeven-rps`` (requests per second against the
wait) or ``breakeven-p99`` (the 99th percentile latency against the wait),
one line per server and concurrency, with :func:`_ext.svgplot.lines`;
``:alt:`` is required.

The ``decide`` role computes the break-even when the page is built:
``breakeven/<connections>/<rps|p99>`` is the shortest wait from which the
async view serves at least :data:`MARGIN` more requests per second (``rps``),
or has a p99 latency at least :data:`MARGIN` lower (``p99``), at that wait
and at every longer one measured. It renders as a phrase that completes a
sentence: "from a wait of 100 ms on", "at every wait measured, from 0 ms",
or "at none of the waits measured (up to 250 ms)".

Both render "not in this run" when the committed results predate the suite,
as :mod:`_ext.benchdata`'s role does.
"""

from __future__ import annotations

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.util.docutils import SphinxDirective

from _ext import benchdata, svgplot
from bench import decide

GROUP = decide.BREAKEVEN_GROUP
# How much better the async view must be for the break-even to count it: the
# runs of one case differ by a few percent on a quiet machine.
MARGIN = 0.10
METRICS = {
    "rps": ("requests per second", "more"),
    "p99": ("p99 latency", "lower"),
}
SERVER_LABELS = {
    decide.SYNC_SERVER: "sync view, gunicorn gthread",
    decide.ASYNC_SERVER: "async view, uvicorn",
}


def metric_value(case: dict, metric: str) -> float:
    if metric == "rps":
        return case["stats"]["mean"]
    return case["latency_ms"]["p99"]


def points(
    cases: dict, connections: int, metric: str
) -> list[tuple[int, float, float]]:
    """``(wait, sync value, async value)`` at each wait both servers have."""
    by_wait: dict[int, dict[str, float]] = {}
    for case in cases.values():
        params = case["params"]
        if params.get("connections") != connections or "wait_ms" not in params:
            continue
        by_wait.setdefault(params["wait_ms"], {})[params["server"]] = metric_value(
            case, metric
        )
    found = [
        (wait, values[decide.SYNC_SERVER], values[decide.ASYNC_SERVER])
        for wait, values in sorted(by_wait.items())
        if decide.SYNC_SERVER in values and decide.ASYNC_SERVER in values
    ]
    if not found:
        raise LookupError(
            f"group {GROUP!r} has no cases with {connections} connections"
        )
    return found


def async_wins(metric: str, sync_value: float, async_value: float) -> bool:
    if metric == "rps":
        return async_value >= sync_value * (1 + MARGIN)
    return async_value <= sync_value * (1 - MARGIN)


def breakeven(cases: dict, connections: int, metric: str) -> tuple[int | None, list]:
    """The shortest wait from which async wins at every longer wait, or None."""
    found = points(cases, connections, metric)
    wait = None
    for point_wait, sync_value, async_value in reversed(found):
        if not async_wins(metric, sync_value, async_value):
            break
        wait = point_wait
    return wait, found


def breakeven_phrase(cases: dict, connections: int, metric: str) -> str:
    wait, found = breakeven(cases, connections, metric)
    if wait is None:
        return f"at none of the waits measured (up to {found[-1][0]}\u00a0ms)"
    if wait == found[0][0]:
        return f"at every wait measured, from {wait}\u00a0ms"
    return f"from a wait of {wait}\u00a0ms on"


# The plots.


def breakeven_plot(data: benchdata.Data, metric: str):
    cases = data.group(GROUP)["cases"]
    waits = sorted({case["params"]["wait_ms"] for case in cases.values()})
    connections = sorted({case["params"]["connections"] for case in cases.values()})
    series = []
    for dash, count in enumerate(connections):
        for number, server in enumerate((decide.SYNC_SERVER, decide.ASYNC_SERVER)):
            values = []
            for wait in waits:
                case = cases.get(decide.case_name(server, wait, count))
                values.append(metric_value(case, metric) if case else None)
            if any(value is not None for value in values):
                name = f"{SERVER_LABELS[server]}, {count} at once"
                series.append(
                    svgplot.Series(name, values, color=number, dash=dash, marker=number)
                )
    return [f"{wait} ms" for wait in waits], series


# name: (metric, title, y axis label)
PLOTS = {
    "breakeven-rps": (
        "rps",
        "A view that waits: requests per second, 1 worker",
        "requests per second (more is better)",
    ),
    "breakeven-p99": (
        "p99",
        "A view that waits: 99th percentile latency, 1 worker",
        "p99 latency, ms (less is better)",
    ),
}
X_LABEL = "how long each request waits on I/O"


def missing(data: benchdata.Data) -> bool:
    """The run is complete but predates the suite: "not in this run"."""
    return data.complete and GROUP not in data.data["groups"]


class DecidePlot(SphinxDirective):
    required_arguments = 1
    has_content = False
    option_spec = {"alt": directives.unchanged}

    def run(self):
        name = self.arguments[0]
        if name not in PLOTS:
            raise self.error(
                f"unknown decide plot {name!r}: use one of {', '.join(PLOTS)}"
            )
        alt = " ".join(self.options.get("alt", "").split())
        if not alt:
            raise self.error(f"decide-plot {name}: the :alt: option is required")
        data = benchdata.data_for(self.env)
        if missing(data):
            text = nodes.Text(f"Plot of {alt[0].lower()}{alt[1:]}: ")
            return [nodes.paragraph("", "", text, *benchdata.not_measured_nodes())]
        metric, title, y_label = PLOTS[name]
        try:
            categories, series = breakeven_plot(data, metric)
            chart = svgplot.Chart(title, alt, categories, series, X_LABEL, y_label)
            svg = svgplot.lines(chart)
        except LookupError as exc:
            raise self.error(f"decide-plot {name}: {exc.args[0]}") from None
        container = nodes.container(classes=["bench-plot-figure"])
        container += nodes.raw("", svg, format="html")
        return [container]


class DecideRole(benchdata.FigureRole):
    """``breakeven/<connections>/<rps|p99>``: see the module docstring."""

    name = "decide"

    def figure(self, data: benchdata.Data) -> list[nodes.Node]:
        parts = self.text.strip().split("/")
        if len(parts) != 3 or parts[0] != "breakeven" or parts[2] not in METRICS:
            raise LookupError(f"expected breakeven/<connections>/<{'|'.join(METRICS)}>")
        if not parts[1].isdigit():
            raise LookupError(f"connections must be a number, not {parts[1]!r}")
        if missing(data):
            return benchdata.not_measured_nodes()
        cases = data.group(GROUP)["cases"]
        return [nodes.Text(breakeven_phrase(cases, int(parts[1]), parts[2]))]


def setup(app):
    app.add_role("decide", DecideRole())
    app.add_directive("decide-plot", DecidePlot)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
