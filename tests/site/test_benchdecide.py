"""The decision guide's plots and break-even render from the decide suite's data."""

import json
import re

import pytest

from _ext import benchdecide
from bench import decide, stats
from tests.support.sphinx import sphinx_build, write_project

CONF = """
extensions = ["myst_parser", "_ext.benchdata"]
source_suffix = {".md": "markdown"}
benchdata_results_glob = "data/full-*.json"
benchdata_page = "results"
root_doc = "guide"
"""

PAGE = """\
# Guide

```{decide-plot} breakeven-rps
:alt: Requests per second against the wait
```

```{decide-plot} breakeven-p99
:alt: The p99 latency against the wait
```

Many: {decide}`breakeven/200/rps`; sooner: {decide}`breakeven/200/p99`;
few: {decide}`breakeven/10/rps`; ratio
{bench}`decide-breakeven/uvicorn.async-view.250ms.c200/ratio`.
"""

RESULTS = """\
---
orphan: true
---

# Results

(bench-environment)=

```{bench-environment}
```
"""

# requests/s and p99 (ms) at each wait, per server and connections.
GRID = {
    ("gunicorn-gthread", 10): {0: (2000, 5), 100: (95, 105), 250: (39, 260)},
    ("uvicorn", 10): {0: (300, 40), 100: (90, 110), 250: (38, 262)},
    ("gunicorn-gthread", 200): {0: (1800, 500), 100: (480, 520), 250: (190, 1100)},
    ("uvicorn", 200): {0: (320, 650), 100: (500, 700), 250: (400, 600)},
}


def wrk_case(server, wait, connections, rate, p99):
    summary = stats.summarize([rate, rate])
    case = {
        "label": f"Django on {server}",
        "params": {
            "server": server,
            "view": decide.CONTENDERS[server],
            "wait_ms": wait,
            "connections": connections,
        },
        "unit": "requests/s",
        "stats": summary,
        "unstable": False,
        "latency_ms": {"p50": p99, "p90": p99, "p99": p99, "mean": p99},
    }
    if server == "uvicorn":
        case["baseline"] = decide.case_name("gunicorn-gthread", wait, connections)
    return case


def grid_cases() -> dict:
    return {
        decide.case_name(server, wait, connections): wrk_case(
            server, wait, connections, rate, p99
        )
        for (server, connections), points in GRID.items()
        for wait, (rate, p99) in points.items()
    }


def results(groups=None):
    if groups is None:
        groups = {"decide-breakeven": {"title": "Waits", "cases": grid_cases()}}
    stats.add_summaries(groups)
    return {
        "schema_version": 1,
        "date": "2026-01-02T03:04:05Z",
        "command": ["python", "-m", "bench", "run"],
        "machine": {"cpu_model": "Example CPU", "cpu_count": 2},
        "software": {"python": "3.13.0", "django": "6.1.3", "asgiref": "3.13.0"},
        "settings": {
            "processes": 1,
            "values": 1,
            "value_seconds": 1,
            "warmup_seconds": 1,
            "cv_threshold": 0.05,
        },
        "groups": groups,
    }


def build(tmp_path, page=PAGE, data=None):
    directory = tmp_path / "src" / "data"
    directory.mkdir(parents=True)
    (directory / "full-1.json").write_text(json.dumps(data or results()))
    srcdir = write_project(
        tmp_path / "src", CONF, {"guide.md": page, "results.md": RESULTS}
    )
    result = sphinx_build(srcdir, "html")
    return result


def text_of(result) -> str:
    html = (result.outdir / "guide.html").read_text()
    text = re.sub(r"<[^>]+>", "", html).replace("\u00a0", " ")
    return " ".join(text.split())


@pytest.mark.parametrize(
    ("connections", "metric", "wait"),
    [
        (200, "rps", 250),  # 500 against 480 at 100 ms is within the margin
        (200, "p99", 250),  # 700 against 520 at 100 ms: worse
        (10, "rps", None),
        (10, "p99", None),
    ],
)
def test_the_break_even_is_the_first_wait_async_wins_from(connections, metric, wait):
    found, _ = benchdecide.breakeven(grid_cases(), connections, metric)
    assert found == wait


def test_a_win_that_does_not_hold_at_longer_waits_is_no_break_even():
    cases = grid_cases()
    cases["uvicorn.async-view.100ms.c200"]["stats"]["mean"] = 900
    cases["uvicorn.async-view.250ms.c200"]["stats"]["mean"] = 100
    assert benchdecide.breakeven(cases, 200, "rps")[0] is None


def test_async_winning_everywhere_is_said_so():
    cases = grid_cases()
    cases["uvicorn.async-view.0ms.c200"]["stats"]["mean"] = 5000
    cases["uvicorn.async-view.100ms.c200"]["stats"]["mean"] = 900
    phrase = benchdecide.breakeven_phrase(cases, 200, "rps")
    assert phrase == "at every wait measured, from 0\u00a0ms"


def test_the_plots_and_the_break_even_render_from_the_data(tmp_path):
    result = build(tmp_path)
    assert result.returncode == 0, result.output
    text = text_of(result)
    assert "Many: from a wait of 250 ms on;" in text
    assert "sooner: from a wait of 250 ms on;" in text
    assert "few: at none of the waits measured (up to 250 ms);" in text
    assert "ratio 2.11\u00d7" in text
    html = (result.outdir / "guide.html").read_text()
    assert html.count('<svg xmlns="http://www.w3.org/2000/svg" class="bench-plot"') == 2
    assert 'aria-label="Requests per second against the wait"' in html
    assert "async view, uvicorn, 200 at once" in html
    assert "sync view, gunicorn gthread, 10 at once" in html
    assert ">250 ms</text>" in html


def test_results_that_predate_the_suite_render_not_in_this_run(tmp_path):
    result = build(tmp_path, data=results(groups={}))
    assert result.returncode == 0, result.output
    text = text_of(result)
    assert text.count("not in this run") == 6  # two plots, three phrases, a ratio
    assert "Plot of requests per second against the wait: not in this run" in text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("breakeven/200", "expected breakeven/<connections>/<rps|p99>"),
        ("breakeven/many/rps", "connections must be a number, not 'many'"),
        ("breakeven/50/rps", "no cases with 50 connections"),
    ],
)
def test_a_bad_role_is_a_build_error_that_says_why(tmp_path, text, message):
    result = build(tmp_path, page=f"# Guide\n\nx {{decide}}`{text}`\n")
    assert result.returncode != 0
    assert message in result.output


def test_a_plot_without_alt_text_is_refused(tmp_path):
    page = "# Guide\n\n```{decide-plot} breakeven-rps\n```\n"
    result = build(tmp_path, page=page)
    assert result.returncode != 0
    assert "the :alt: option is required" in result.output
