"""The benchmark plots' colors and sizes, computed from the SVG they emit."""

import re
from pathlib import Path

import furo
import pytest
from a11y_pygments.utils.wcag_contrast import contrast_ratio

from _ext import svgplot


def rgb01(color: str) -> tuple[float, float, float]:
    return tuple(int(color[i : i + 2], 16) / 255 for i in (1, 3, 5))


def two_series_bars() -> str:
    series = [
        svgplot.Series("sync", [1.0, 2.0], color=0, dash=0),
        svgplot.Series("async", [1.5, 2.5], color=1, dash=1),
    ]
    chart = svgplot.Chart("Title", "Alt", ["a", "b"], series, "x", "y")
    return svgplot.bars(chart)


@pytest.mark.parametrize("color", svgplot.COLORS)
@pytest.mark.parametrize("background", svgplot.BACKGROUNDS)
def test_every_series_color_stands_out_from_both_themes(color, background):
    # WCAG 1.4.11: 3:1 for the parts of a graphic that carry its meaning.
    assert contrast_ratio(rgb01(color), rgb01(background)) >= 3


def test_the_backgrounds_are_furos():
    css = (Path(furo.__file__).parent / "theme/furo/static/styles/furo.css").read_text()
    found = set(re.findall(r"--color-background-primary:(#[0-9a-f]+)", css))
    assert {"#fff", "#131416"} <= found
    assert set(svgplot.BACKGROUNDS) == {"#ffffff", "#131416"}


def test_bars_tell_series_apart_by_hatching_not_by_fading():
    svg = two_series_bars()
    assert "fill-opacity" not in svg
    # The second series is hatched: the same pattern fills its bars and legend.
    hatch = re.search(r'<pattern id="(hatch-[0-9a-f]+-1)"', svg)[1]
    assert svg.count(f'fill="url(#{hatch})"') == 2 + 1
    # Its stripes take the text color, so they show in both themes.
    assert 'stroke="currentColor"' in svg.split(hatch, 1)[1].split("</pattern>")[0]


def test_two_charts_do_not_share_pattern_ids():
    other = svgplot.Chart(
        "Other",
        "Alt",
        ["a"],
        [svgplot.Series("s", [1.0]), svgplot.Series("t", [2.0], color=1, dash=1)],
        "x",
        "y",
    )
    first = set(re.findall(r'<pattern id="([^"]+)"', two_series_bars()))
    second = set(re.findall(r'<pattern id="([^"]+)"', svgplot.bars(other)))
    assert first
    assert second
    assert not first & second


@pytest.mark.parametrize("render", [svgplot.bars, svgplot.lines])
def test_a_chart_never_shrinks_its_smallest_text_below_11px(render):
    chart = svgplot.Chart(
        "T", "A", ["a", "b"], [svgplot.Series("s", [1.0, 2.0])], "x", "y"
    )
    svg = render(chart)
    width = float(re.search(r'viewBox="0 0 ([\d.]+) ', svg)[1])
    min_width = float(re.search(r"min-width: ([\d.]+)px", svg)[1])
    smallest = min(float(size) for size in re.findall(r'font-size="([\d.]+)"', svg))
    assert smallest * min_width / width >= svgplot.MIN_TEXT_PX - 0.5


def test_labels_are_one_element_a_line_for_the_search_index():
    # Sphinx strips a raw block's tags: without a break between two labels,
    # their words would merge into one search term.
    svg = two_series_bars()
    assert "</text><" not in svg
    assert re.sub(r"<[^>]+>", "", svg).split().count("sync") >= 1
