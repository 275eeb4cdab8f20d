"""The attribution page's chart, table and figures, from the ``attribution`` group.

The ``attribution`` suite (``bench/attribution.py``) records, per request
path, the measured total and its parts. This extension, set up by
:mod:`_ext.benchdata`, shows them:

````md
```{attribution-plot}
:alt: A stacked bar per request path, its parts side by side
```

```{attribution-table}
```

A hop costs {attribution}`unit/hop`; the parts explain
{attribution}`asgi-async-none/explained` of the async view's time.
````

``attribution-plot`` stacks each path's parts (:data:`bench.attribution.PARTS`)
left to right, adds what they leave unexplained as an outlined segment and
marks the measured total with a tick (``:alt:`` is required).
``attribution-table`` gives the same numbers. The ``attribution`` role
renders one figure:

- ``<path>/total``, ``<path>/<part>``, ``<path>/unattributed`` (microseconds)
  and ``<path>/explained`` (a percentage), with ``<path>`` as in
  ``asgi-async-startproject``; ``<path>/threads`` is the thread parts
  (:data:`THREAD_PARTS`) together, ``<path>/threads-share`` their share of
  the total;
- ``<path>/count/<what>``: per request, ``sync_to_async``, ``async_to_sync``,
  ``executor_threads``, ``other_threads`` or ``tasks``;
- ``unit/<hop|task|async-to-sync|executor-thread|join-thread>``: one of each;
- ``causal/<removal>/<predicted|measured|ratio|agrees>`` and
  ``causal/tolerance``;
- ``lowest-explained`` and ``highest-explained``: the smallest and largest
  share of a path's total that its parts explain, with that path's name.

Any of these after ``cpu/`` is the same figure in CPU time (the CPU time of
all the worker's threads), as in ``cpu/asgi-async-none/explained``.

Everything renders "not in this run" when the committed results predate the
suite, as :mod:`_ext.benchdata`'s role does; so does a part the run's suite
did not have yet (the chart and the table leave it out).
"""

from __future__ import annotations

from html import escape

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.util.docutils import SphinxDirective

from _ext import benchdata, svgplot
from bench import attribution

GROUP = attribution.GROUP
UNATTRIBUTED = "unattributed"
# (color, hatched) per part: neighbors differ by pattern as well as color.
STYLES = {
    "handler": (5, 0),
    "view": (2, 0),
    "middleware": (4, 0),
    "tasks": (2, 1),
    "hops": (0, 0),
    "async-to-sync": (0, 1),
    "switches": (1, 0),
    "executor-thread": (3, 0),
    "join-thread": (3, 1),
}
COUNT_KEYS = (
    "sync_to_async",
    "async_to_sync",
    "executor_threads",
    "other_threads",
    "tasks",
)
# The parts that are threads: starting them, handing work to them, and what
# the handoffs cost the code around them.
THREAD_PARTS = ("hops", "async-to-sync", "switches", "executor-thread", "join-thread")
CAUSAL_FIELDS = ("predicted", "measured", "ratio", "agrees")
UNIT_KEYS = ("hop", "task", "async-to-sync", "executor-thread", "join-thread")
EXTREMES = {"lowest-explained": min, "highest-explained": max}
TITLE = "Where each path's time per request goes"
X_LABEL = "time per request (µs)"


class NotInRun(Exception):
    """A figure of a part that the committed run predates."""


def missing(data: benchdata.Data) -> bool:
    """The run is complete but predates the suite: "not in this run"."""
    return data.complete and GROUP not in data.data["groups"]


def us(value: float) -> str:
    """Microseconds, or a dash for a part the path does not have."""
    return "\u2013" if value == 0 else benchdata.format_us(value)


def percent(value: float) -> str:
    return f"{value * 100:.0f}%"


# The figures.


def figure(data: benchdata.Data, text: str) -> str:
    parts = text.strip().split("/")
    group = data.group(GROUP)
    # cpu/...: the same figure in CPU time.
    suffix = ""
    if parts[0] == "cpu" and len(parts) > 1:
        parts, suffix = parts[1:], "_cpu"
    if parts == ["causal", "tolerance"]:
        return f"±{percent(group['tolerance'])}"
    if parts[0] in EXTREMES and len(parts) == 1:
        paths = group[f"breakdown{suffix}"]
        name = EXTREMES[parts[0]](paths, key=lambda name: paths[name]["explained"])
        return f"{percent(paths[name]['explained'])} ({short_label(name)})"
    if parts[0] == "unit" and len(parts) == 2 and parts[1] in UNIT_KEYS:
        return benchdata.format_us(group[f"units{suffix}"][parts[1]])
    if parts[0] == "causal" and len(parts) == 3:
        check = group[f"causal{suffix}"].get(parts[1])
        if check is None or parts[2] not in CAUSAL_FIELDS:
            raise LookupError(
                f"expected causal/<{'|'.join(group['causal'])}>"
                f"/<{'|'.join(CAUSAL_FIELDS)}>"
            )
        if parts[2] == "agrees":
            return "yes" if check["agrees"] else "no"
        if parts[2] == "ratio":
            ratio = check["ratio"]
            return "n/a" if ratio is None else percent(ratio)
        return benchdata.format_us(check[f"{parts[2]}_us"])
    paths = group[f"breakdown{suffix}"]
    if parts[0] not in paths:
        raise LookupError(
            f"unknown path {parts[0]!r}: use one of {', '.join(paths)},"
            " unit/... or causal/..."
        )
    path = paths[parts[0]]
    if len(parts) == 3 and parts[1] == "count" and parts[2] in COUNT_KEYS:
        return f"{path['counts'].get(parts[2], 0):g}"
    if len(parts) == 2:
        field = parts[1]
        if field == "total":
            return benchdata.format_us(path["total_us"])
        if field == "explained":
            return percent(path["explained"])
        if field == UNATTRIBUTED:
            return benchdata.format_us(path["unattributed_us"])
        if field in ("threads", "threads-share"):
            spent = sum(path["parts"].get(part, 0.0) for part in THREAD_PARTS)
            if field == "threads":
                return benchdata.format_us(spent)
            return percent(spent / path["total_us"])
        if field in path["parts"]:
            return benchdata.format_us(path["parts"][field])
        if field in attribution.PARTS:
            raise NotInRun(field)
    fields = ["total", "explained", UNATTRIBUTED, "threads", "threads-share"]
    fields += attribution.PARTS
    raise LookupError(
        f"expected <path>/<{'|'.join(fields)}> or <path>/count/<{'|'.join(COUNT_KEYS)}>"
    )


class AttributionRole(benchdata.FigureRole):
    name = "attribution"

    def figure(self, data: benchdata.Data) -> list[nodes.Node]:
        if missing(data):
            return benchdata.not_measured_nodes()
        try:
            return [nodes.Text(figure(data, self.text))]
        except NotInRun:
            return benchdata.not_measured_nodes()


# The chart: one stacked bar per path.


def segments(path: dict) -> list[tuple[str, float]]:
    """``(part, microseconds)`` left to right, the unexplained rest last."""
    found = [
        (name, max(path["parts"].get(name, 0.0), 0.0)) for name in attribution.PARTS
    ]
    found.append((UNATTRIBUTED, max(path["unattributed_us"], 0.0)))
    return found


def stacked_bars(
    chart: svgplot.Chart, rows: list[list[tuple[str, float]]], totals: list[float]
) -> str:
    """Horizontal stacked bars: a row per category, a segment per part.

    ``chart.series`` names and styles the parts (their ``values`` are unused).
    Each row's unattributed rest is an outlined segment, and a tick marks its
    measured total: where the parts add up to more, the bar passes the tick.
    """
    width = svgplot.WIDTH
    body = [
        svgplot._text(
            width / 2, 20, chart.title, "middle", svgplot.FONT + 1, ' font-weight="600"'
        ),
    ]
    legend, y = svgplot._legend(chart, 44, "bars")
    body += legend
    body += [
        f'<rect x="60" y="{y - 10:.1f}" width="24" height="12" {OUTLINE}/>',
        svgplot._text(90, y, f"{UNATTRIBUTED}: the total less the parts"),
        f'<line x1="372" y1="{y - 12:.1f}" x2="372" y2="{y + 2:.1f}" {MARK}/>',
        svgplot._text(384, y, "the measured total"),
    ]
    top = y + 22
    label_width = max(7.0 * max(len(c) for c in chart.categories), 60) + 16
    left, right = label_width, width - 20
    bar, gap = 18, 12
    ends = [
        max(sum(value for _, value in row), total)
        for row, total in zip(rows, totals, strict=True)
    ]
    ticks = svgplot.nice_ticks(max(ends, default=1.0), max(2, int((right - left) / 90)))
    scale = (right - left) / ticks[-1]
    bottom = top + (bar + gap) * len(rows)
    for tick in ticks:
        x = left + tick * scale
        body.append(
            f'<line x1="{x:.1f}" y1="{top:.1f}" x2="{x:.1f}" y2="{bottom:.1f}"'
            ' stroke="currentColor" stroke-opacity="0.15"/>'
        )
        body.append(
            svgplot._text(
                x, bottom + 16, svgplot.tick_text(tick), "middle", svgplot.SMALL_FONT
            )
        )
    styles = {series.name: series for series in chart.series}
    lines = zip(chart.categories, rows, totals, strict=True)
    for index, (category, row, total) in enumerate(lines):
        y = top + index * (bar + gap) + gap / 2
        body.append(svgplot._text(left - 8, y + bar / 2 + 4, category, "end"))
        x = left
        for name, value in row:
            if value <= 0:
                continue
            label = PART_LABELS[name]
            tip = f"<title>{escape(label)}: {benchdata.format_us(value)}</title>"
            if name == UNATTRIBUTED:
                paint = OUTLINE
            else:
                paint = f'fill="{svgplot._fill(chart, styles[label])}"'
            body.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{value * scale:.1f}"'
                f' height="{bar}" {paint}>{tip}</rect>'
            )
            x += value * scale
        mark = left + total * scale
        body.append(
            f'<line x1="{mark:.1f}" y1="{y - 3:.1f}" x2="{mark:.1f}"'
            f' y2="{y + bar + 3:.1f}" {MARK}>'
            f"<title>measured total: {benchdata.format_us(total)}</title></line>"
        )
    body.append(svgplot._text((left + right) / 2, bottom + 36, chart.x_label, "middle"))
    return svgplot._svg(chart, bottom + 48, body, svgplot._hatch_defs(chart))


OUTLINE = 'fill="none" stroke="currentColor" stroke-dasharray="3 2"'
MARK = 'stroke="currentColor" stroke-width="2"'
PART_LABELS = {**attribution.PARTS, UNATTRIBUTED: UNATTRIBUTED}


def chart_series() -> list[svgplot.Series]:
    return [
        svgplot.Series(label, [], color=STYLES[name][0], dash=STYLES[name][1])
        for name, label in attribution.PARTS.items()
    ]


class AttributionPlot(SphinxDirective):
    has_content = False
    option_spec = {"alt": directives.unchanged}

    def run(self):
        alt = " ".join(self.options.get("alt", "").split())
        if not alt:
            raise self.error("attribution-plot: the :alt: option is required")
        data = benchdata.data_for(self.env)
        if missing(data):
            text = nodes.Text(f"Plot of {alt[0].lower()}{alt[1:]}: ")
            return [nodes.paragraph("", "", text, *benchdata.not_measured_nodes())]
        try:
            paths = data.group(GROUP)["breakdown"]
            names = attribution.path_names()
            rows = [segments(paths[name]) for name in names]
            totals = [paths[name]["total_us"] for name in names]
        except (LookupError, TypeError) as exc:
            raise self.error(f"attribution-plot: {exc.args[0]}") from None
        categories = [short_label(name) for name in names]
        chart = svgplot.Chart(TITLE, alt, categories, chart_series(), X_LABEL, "")
        container = nodes.container(classes=["bench-plot-figure"])
        svg = stacked_bars(chart, rows, totals)
        container += nodes.raw("", svg, format="html")
        return [container]


def short_label(name: str) -> str:
    handler, view, middleware = name.split("-", 2)
    extra = ", 7 mw" if middleware == "startproject" else ""
    return f"{view} view, {handler.upper()}{extra}"


class AttributionTable(SphinxDirective):
    has_content = False

    def run(self):
        data = benchdata.data_for(self.env)
        if missing(data):
            text = nodes.Text("The breakdown per path: ")
            return [nodes.paragraph("", "", text, *benchdata.not_measured_nodes())]
        paths = data.group(GROUP)["breakdown"]
        names = attribution.path_names()
        header = ["part", *(short_label(name) for name in names)]
        lines = [("total", lambda path: benchdata.format_us(path["total_us"]))]
        for part, label in attribution.PARTS.items():
            lines.append(
                (label, lambda path, part=part: us(path["parts"].get(part, 0.0)))
            )
        lines.append((UNATTRIBUTED, lambda path: us(path["unattributed_us"])))
        lines.append(("explained", lambda path: percent(path["explained"])))
        rows = [
            [[nodes.Text(label)], *([nodes.Text(cell(paths[n]))] for n in names)]
            for label, cell in lines
        ]
        title = "Each path's time per request, part by part (medians)"
        return [benchdata.build_table(title, header, rows)]


def setup(app):
    app.add_role("attribution", AttributionRole())
    app.add_directive("attribution-plot", AttributionPlot)
    app.add_directive("attribution-table", AttributionTable)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
