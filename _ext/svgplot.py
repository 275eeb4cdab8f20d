"""Small hand-written SVG charts for the benchmark pages (no plotting library).

Two kinds: :func:`bars` (horizontal bars, one group of bars per category) and
:func:`lines` (categories along the x axis, one line per series). Axes, ticks
and text use ``currentColor``, so a chart takes the page's text color in light
and dark themes; the series colors are mid-tone and also differ by pattern
(line dashes, marker shapes, hatched bars), so that they stay apart without
color. Every chart is a ``role="img"`` with a ``<title>`` holding the alt text.

A chart keeps its text readable on a phone: its ``min-width`` stops it from
shrinking below the width at which its smallest text is :data:`MIN_TEXT_PX`
pixels tall (site.css lets the figure scroll sideways instead).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from html import escape

# Mid-tone colors, each at least 3:1 (WCAG's contrast for graphics) against
# both themes' page backgrounds: furo's white and its dark #131416
# (tests/site/test_benchplot.py computes it).
COLORS = ("#3b82c4", "#c9681a", "#3a9a5b", "#c44e52", "#8c6bb1", "#8a8a8a")
BACKGROUNDS = ("#ffffff", "#131416")
DASHES = ("", "6 3", "2 3", "8 3 2 3")
MARKERS = ("circle", "square", "triangle", "diamond")
WIDTH = 680
FONT = 13
SMALL_FONT = FONT - 2  # tick and bar labels, the smallest text on a chart
MIN_TEXT_PX = 11


@dataclass
class Series:
    name: str
    values: list[float | None]
    color: int = 0  # index into COLORS
    dash: int = 0  # index into DASHES
    marker: int = 0  # index into MARKERS
    labels: list[str | None] = field(default_factory=list)  # shown by the bars


@dataclass
class Chart:
    title: str
    alt: str
    categories: list[str]
    series: list[Series]
    x_label: str
    y_label: str


def nice_ticks(top: float, count: int = 5) -> list[float]:
    """Round tick values from 0 to at least ``top``."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    ticks, value = [], 0.0
    while value < top - 1e-9:
        ticks.append(value)
        value = round(value + step, 10)
    ticks.append(value)
    return ticks


def tick_text(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 or value == int(value) else f"{value:g}"


def _text(x, y, text, anchor="start", size=FONT, extra="") -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}"'
        f' fill="currentColor"{extra}>{escape(text)}</text>'
    )


def min_width() -> float:
    """The narrowest a chart may be drawn with its smallest text still legible."""
    return WIDTH * MIN_TEXT_PX / SMALL_FONT


def _svg(chart: Chart, height: float, body: list[str], defs: str = "") -> str:
    alt = escape(chart.alt, quote=True)
    # One element a line: Sphinx's search indexes a raw HTML block with its
    # tags stripped, and adjacent labels would otherwise merge into one word.
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="bench-plot" role="img"'
        f' viewBox="0 0 {WIDTH} {height:.0f}" width="{WIDTH}" height="{height:.0f}"'
        f' aria-label="{alt}"'
        f' style="max-width: 100%; min-width: {min_width():.0f}px; height: auto"'
        f' font-family="inherit">\n'
        f"<title>{escape(chart.alt)}</title>\n{defs}" + "\n".join(body) + "\n</svg>"
    )


def _hatch_id(chart: Chart, series: Series) -> str:
    """An id for a series' hatch pattern, unique to this chart on its page."""
    digest = hashlib.sha1(f"{chart.title}|{chart.alt}".encode()).hexdigest()[:8]
    return f"hatch-{digest}-{series.color % len(COLORS)}"


def _hatch_defs(chart: Chart) -> str:
    """Hatch patterns for the bar series drawn with one (see _fill)."""
    patterns = []
    for series in chart.series:
        if not series.dash % 2:
            continue
        color = COLORS[series.color % len(COLORS)]
        patterns.append(
            f'<pattern id="{_hatch_id(chart, series)}" width="6" height="6"'
            ' patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
            f'<rect width="6" height="6" fill="{color}"/>'
            '<line x1="0" y1="0" x2="0" y2="6" stroke="currentColor"'
            ' stroke-width="2"/></pattern>'
        )
    return f"<defs>{''.join(patterns)}</defs>\n" if patterns else ""


def _legend(chart: Chart, y: float, kind: str) -> tuple[list[str], float]:
    """Legend entries in rows from ``y``; returns the elements and the next y."""
    parts, x, left = [], 60.0, 60.0
    for series in chart.series:
        width = 34 + 7.2 * len(series.name) + 18
        if x + width > WIDTH - 10 and x > left:
            x, y = left, y + 20
        if kind == "bars":
            parts.append(
                f'<rect x="{x:.1f}" y="{y - 10:.1f}" width="24" height="12"'
                f' fill="{_fill(chart, series)}"/>'
            )
        else:
            parts.append(_line_sample(x, y - 4, series))
        parts.append(_text(x + 30, y, series.name))
        x += width
    return parts, y + 22


def _fill(chart: Chart, series: Series) -> str:
    """A bar's fill: the series color, hatched with the text color for every
    other series, so that neighboring bars differ without color too."""
    if series.dash % 2:
        return f"url(#{_hatch_id(chart, series)})"
    return COLORS[series.color % len(COLORS)]


def _line_sample(x: float, y: float, series: Series) -> str:
    color = COLORS[series.color % len(COLORS)]
    dash = DASHES[series.dash % len(DASHES)]
    dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
    return (
        f'<line x1="{x:.1f}" y1="{y:.1f}" x2="{x + 24:.1f}" y2="{y:.1f}"'
        f' stroke="{color}" stroke-width="2"{dash_attr}/>' + _marker(x + 12, y, series)
    )


def _marker(x: float, y: float, series: Series) -> str:
    color = COLORS[series.color % len(COLORS)]
    shape = MARKERS[series.marker % len(MARKERS)]
    if shape == "circle":
        return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{color}"/>'
    if shape == "square":
        return (
            f'<rect x="{x - 3.5:.1f}" y="{y - 3.5:.1f}" width="7" height="7"'
            f' fill="{color}"/>'
        )
    if shape == "triangle":
        points = (
            f"{x:.1f},{y - 4.5:.1f} {x - 4:.1f},{y + 3:.1f} {x + 4:.1f},{y + 3:.1f}"
        )
    else:
        points = f"{x:.1f},{y - 4.5:.1f} {x + 4.5:.1f},{y:.1f} {x:.1f},{y + 4.5:.1f}"
        points += f" {x - 4.5:.1f},{y:.1f}"
    return f'<polygon points="{points}" fill="{color}"/>'


def bars(chart: Chart) -> str:
    """Horizontal bars: a row per category, a bar per series in each row."""
    body = [_text(WIDTH / 2, 20, chart.title, "middle", FONT + 1, ' font-weight="600"')]
    legend, top = _legend(chart, 44, "bars")
    body += legend
    label_width = max(7.0 * max(len(c) for c in chart.categories), 60) + 16
    left, right = label_width, WIDTH - 70
    bar, gap = 14, 10
    row = bar * len(chart.series) + gap
    plot_height = row * len(chart.categories)
    values = [v for s in chart.series for v in s.values if v is not None]
    # About one tick label per 90 px, so that the labels never overlap.
    ticks = nice_ticks(max(values, default=1.0), max(2, int((right - left) / 90)))
    scale = (right - left) / ticks[-1]
    bottom = top + plot_height
    for tick in ticks:
        x = left + tick * scale
        body.append(
            f'<line x1="{x:.1f}" y1="{top:.1f}" x2="{x:.1f}" y2="{bottom:.1f}"'
            ' stroke="currentColor" stroke-opacity="0.15"/>'
        )
        body.append(_text(x, bottom + 16, tick_text(tick), "middle", SMALL_FONT))
    body.append(
        f'<line x1="{left:.1f}" y1="{top:.1f}" x2="{left:.1f}" y2="{bottom:.1f}"'
        ' stroke="currentColor"/>'
    )
    for index, category in enumerate(chart.categories):
        y0 = top + index * row + gap / 2
        middle = y0 + bar * len(chart.series) / 2
        body.append(_text(left - 8, middle + 4, category, "end"))
        for number, series in enumerate(chart.series):
            value = series.values[index]
            if value is None:
                continue
            y = y0 + number * bar
            body.append(
                f'<rect x="{left:.1f}" y="{y:.1f}" width="{value * scale:.1f}"'
                f' height="{bar - 2}" fill="{_fill(chart, series)}">'
                f"<title>{escape(series.name)}: {escape(_label(series, index))}"
                "</title></rect>"
            )
            body.append(
                _text(
                    left + value * scale + 4,
                    y + bar - 4,
                    _label(series, index),
                    size=SMALL_FONT,
                )
            )
    body.append(_text((left + right) / 2, bottom + 36, chart.x_label, "middle"))
    return _svg(chart, bottom + 48, body, _hatch_defs(chart))


def _label(series: Series, index: int) -> str:
    if index < len(series.labels) and series.labels[index] is not None:
        return series.labels[index]
    value = series.values[index]
    return "" if value is None else f"{value:,.2f}"


def lines(chart: Chart) -> str:
    """Categories along x, a line per series; a gap where a value is None."""
    body = [_text(WIDTH / 2, 20, chart.title, "middle", FONT + 1, ' font-weight="600"')]
    legend, top = _legend(chart, 44, "lines")
    body += legend
    left, right = 70.0, WIDTH - 20.0
    plot_height = 260.0
    bottom = top + plot_height
    values = [v for s in chart.series for v in s.values if v is not None]
    ticks = nice_ticks(max(values, default=1.0))
    scale = plot_height / ticks[-1]
    for tick in ticks:
        y = bottom - tick * scale
        body.append(
            f'<line x1="{left:.1f}" y1="{y:.1f}" x2="{right:.1f}" y2="{y:.1f}"'
            ' stroke="currentColor" stroke-opacity="0.15"/>'
        )
        body.append(_text(left - 6, y + 4, tick_text(tick), "end", SMALL_FONT))
    body.append(
        f'<path d="M{left:.1f},{top:.1f} V{bottom:.1f} H{right:.1f}"'
        ' fill="none" stroke="currentColor"/>'
    )
    count = len(chart.categories)
    step = (right - left) / max(count, 1)

    def x_of(index: int) -> float:
        return left + step * (index + 0.5)

    for index, category in enumerate(chart.categories):
        body.append(_text(x_of(index), bottom + 16, category, "middle", FONT - 1))
    for series in chart.series:
        color = COLORS[series.color % len(COLORS)]
        dash = DASHES[series.dash % len(DASHES)]
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        runs, current = [], []
        for index, value in enumerate(series.values):
            if value is None:
                if current:
                    runs.append(current)
                current = []
            else:
                current.append((x_of(index), bottom - value * scale))
        if current:
            runs.append(current)
        for points in runs:
            if len(points) > 1:
                path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
                body.append(
                    f'<polyline points="{path}" fill="none" stroke="{color}"'
                    f' stroke-width="2"{dash_attr}/>'
                )
            for x, y in points:
                body.append(_marker(x, y, series))
    body.append(_text((left + right) / 2, bottom + 38, chart.x_label, "middle"))
    middle = (top + bottom) / 2
    body.append(
        _text(
            16,
            middle,
            chart.y_label,
            "middle",
            extra=f' transform="rotate(-90 16 {middle:.1f})"',
        )
    )
    return _svg(chart, bottom + 50, body)
