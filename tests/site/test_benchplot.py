"""Plots, and the versions and asgiref tables, rendered from a results file."""

import re

import pytest

from _ext import svgplot
from bench import stats
from tests.site.test_benchdata import build, html_of, results

PLOTS = """\
# Results

(bench-environment)=

## The run

```{bench-plot} request-paths
:alt: Ratios of the four paths
```

```{bench-plot} middleware
:alt: Middleware chains & costs
```

```{bench-plot} versions
:alt: Ratios by release
```

```{bench-plot} versions-wsgi
:alt: WSGI by release
```

```{bench-plot} asgiref
:alt: Two asgiref releases
```

```{bench-table} versions
```

```{bench-table} asgiref
```

Threads {bench}`asgiref/asgiref-3.13.0-asgi-sync/threads`;
oldest {bench}`groups/asgiref/asgiref_bound/oldest`;
join {bench}`groups/versions/join/factor`;
python {bench}`groups/versions/series/0/python`.
"""


def run(mean, threads=None, unstable=False):
    spread = mean * (0.2 if unstable else 0.01)
    record = {"process": 0, "values_us": [mean - spread, mean + spread]}
    if threads is not None:
        record["threads"] = {"per_request": threads}
    return record


def case(label, params, mean, baseline=None, threads=0.0, unstable=False):
    entry = {
        "label": label,
        "params": params,
        "unit": "us",
        "runs": [run(mean, threads, unstable)],
        "threads_per_request": threads,
    }
    if baseline:
        entry["baseline"] = baseline
    return entry


def with_suites(wobbly=()):
    data = results()
    cases = {}
    table = [("2.2", "3.9", {"wsgi-sync": 80.0})]
    table.append(("3.1", "3.9", {"wsgi-sync": 80.0, "asgi-async": 480.0}))
    table.append(("4.2", "3.9", {"wsgi-sync": 82.0, "asgi-sync": 900.0}))
    table.append(("4.2", "3.12", {"wsgi-sync": 46.0, "asgi-sync": 920.0}))
    for release, python, paths in table:
        prefix = f"django-{release}-py{python}"
        for path, mean in paths.items():
            params = {"django": release, "python": python, "path": path}
            name = f"{prefix}-{path}"
            cases[name] = case(
                name, params, mean, f"{prefix}-wsgi-sync", unstable=name in wobbly
            )
    data["groups"]["versions"] = {
        "title": "versions",
        "cases": cases,
        "series": [{"name": "A", "python": "3.9"}, {"name": "B", "python": "3.12"}],
        "join": {"release": "4.2", "factor": 46.0 / 82.0},
    }
    asgiref = {}
    for release, threads in (("3.9.1", 1.0), ("3.13.0", 2.0)):
        for what, mean in (("wsgi-sync", 50.0), ("asgi-sync", 800.0 * threads)):
            asgiref[f"asgiref-{release}-{what}"] = case(
                f"asgiref {release}: {what} <&>",
                {"asgiref": release, "path": what},
                mean,
                f"asgiref-{release}-wsgi-sync",
                threads if what == "asgi-sync" else 0.0,
            )
    data["groups"]["asgiref"] = {
        "title": "asgiref",
        "cases": asgiref,
        "django": "6.1.3",
        "asgiref_bound": {"oldest": "3.9.1", "newest": "3.13.0"},
    }
    stats.add_summaries({k: data["groups"][k] for k in ("versions", "asgiref")})
    return data


def svgs(html):
    return re.findall(
        r'<svg xmlns="http://www.w3.org/2000/svg" class="bench-plot".*?</svg>',
        html,
        re.S,
    )


def test_plots_are_inline_svg_with_alt_text_and_theme_colors(tmp_path):
    result = build(tmp_path, {"results.md": PLOTS}, {"full-1.json": with_suites()})
    assert result.returncode == 0, result.output
    html = html_of(result)
    plots = svgs(html)
    assert len(plots) == 5
    for svg in plots:
        assert 'role="img"' in svg
        assert 'stroke="currentColor"' in svg  # axes take the page's text color
        assert 'fill="currentColor"' in svg  # and so does the text
        assert "#000" not in svg
        assert "#fff" not in svg.lower()
    assert 'aria-label="Middleware chains &amp; costs"' in plots[1]
    assert "<title>Middleware chains &amp; costs</title>" in plots[1]
    # Bars carry their figures; lines their axis labels with units.
    assert "20.00\u00d7" in plots[0]  # asgi-sync-trivial: 800 / 40
    assert "time per request (µs)" in plots[1]
    assert "ratio to a sync view via WSGI (\u00d7)" in plots[2]
    assert "Python 3.9" in plots[3]
    assert "Python 3.12" in plots[3]
    assert "The same Django on two asgiref releases" in plots[4]
    assert "asgiref 3.9.1" in plots[4]
    assert "wsgi-sync &lt;&amp;&gt;" in plots[4]
    text = re.sub(r"<[^>]+>", "", html)
    assert "Threads 2;" in text
    assert "oldest 3.9.1;" in text
    assert "join 0.56\u00d7;" in text
    assert "python 3.9." in text


def test_versions_and_asgiref_tables(tmp_path):
    result = build(tmp_path, {"results.md": PLOTS}, {"full-1.json": with_suites()})
    assert result.returncode == 0, result.output
    text = re.sub(r"<[^>]+>", "|", html_of(result))
    text = re.sub(r"\s*\|[\s|]*", "|", text).replace("\u00a0", " ")
    # 2.2 has only WSGI: dashes for the other paths; 3.1's async via ASGI is 6x.
    assert "|2.2|3.9|80.0 µs ± 1.13 µs|—|—|—|" in text
    assert "|3.1|3.9|80.0 µs ± 1.13 µs|—|—|6.00\u00d7|" in text
    assert "|4.2|3.12|46.0 µs ± 0.65 µs|—|20.00\u00d7|—|" in text
    # asgiref: time and threads side by side, oldest first.
    assert "|asgiref 3.9.1|Threads started|asgiref 3.13.0|Threads started|" in text
    row = "|asgi-sync &lt;&amp;&gt;|800 µs ± 11.3 µs|1|1,600 µs ± 22.6 µs|2|"
    assert row in text


def test_unstable_figures_are_marked_in_the_versions_table(tmp_path):
    data = with_suites(wobbly=("django-4.2-py3.12-asgi-sync",))
    page = "# R\n\n```{bench-table} versions\n```\n"
    result = build(tmp_path, {"results.md": page}, {"full-1.json": data})
    assert result.returncode == 0, result.output
    assert "repeated runs disagree" in html_of(result)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "```{bench-plot} versions\n```",
            "bench-plot versions: the :alt: option is required",
        ),
        ("```{bench-plot} pie\n:alt: x\n```", "unknown benchmark plot 'pie'"),
        ("{bench}`asgiref/asgiref-3.9.1-wsgi-sync/threads`", ""),
        ("{bench}`bridges/async-to-sync/threads`", "has no thread count"),
        (
            "{bench}`groups/versions/series/7/python`",
            "no 'groups/versions/series/7/python'",
        ),
        ("{bench}`groups/versions/series`", "is not a single value"),
    ],
)
def test_plot_and_field_errors_fail_the_build_and_say_why(tmp_path, text, message):
    result = build(
        tmp_path, {"results.md": f"# R\n\n{text}\n"}, {"full-1.json": with_suites()}
    )
    if not message:
        assert result.returncode == 0, result.output
        return
    assert result.returncode != 0
    assert message in result.output


def test_a_skipped_asgiref_suite_fails_its_table_with_a_reason(tmp_path):
    data = with_suites()
    data["groups"]["asgiref"] = {
        "title": "asgiref",
        "cases": {},
        "skipped": [{"what": "x", "why": "y"}],
    }
    page = "# R\n\n```{bench-plot} asgiref\n:alt: a\n```\n"
    result = build(tmp_path, {"results.md": page}, {"full-1.json": data})
    assert result.returncode != 0
    assert "group 'asgiref' has no asgiref_bound (was it skipped?)" in result.output


# The SVG helpers alone.


@pytest.mark.parametrize(
    ("top", "count", "expected"),
    [
        (45.0, 5, [0, 10, 20, 30, 40, 50]),
        (1.7, 5, [0, 0.5, 1.0, 1.5, 2.0]),
        (1303.0, 3, [0, 500, 1000, 1500]),
        (0.0, 5, [0, 1]),
    ],
)
def test_nice_ticks_cover_the_data_with_round_steps(top, count, expected):
    assert svgplot.nice_ticks(top, count) == expected


def test_a_line_breaks_where_a_value_is_missing():
    series = svgplot.Series("s", [1.0, 2.0, None, 3.0, 4.0])
    chart = svgplot.Chart("t", "alt", list("abcde"), [series], "x", "y")
    svg = svgplot.lines(chart)
    assert svg.count("<polyline") == 2
    assert svg.count("<circle") == 4 + 1  # four points and the legend's sample
