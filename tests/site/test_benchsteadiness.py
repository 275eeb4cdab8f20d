"""The steadiness and run-time tables, and a suite's time, come from the run's data."""

import json
import re

from _ext import benchsteadiness
from bench import stats
from tests.support.sphinx import sphinx_build, write_project

CONF = """
extensions = ["myst_parser", "_ext.benchdata"]
source_suffix = {".md": "markdown"}
benchdata_results_glob = "data/full-*.json"
benchdata_page = "page"
root_doc = "page"
"""

PAGE = """\
# Page

```{bench-steadiness}
```

```{bench-steadiness} flagged
```

```{bench-suite-times}
```

The servers took {bench}`groups/servers-trivial/suite_seconds`.
"""


def in_process(values, **params):
    return {"params": params, "runs": [{"values_us": values, "core_share": []}]}


def results(with_times=True):
    groups = {
        "request-paths": {
            "cases": {
                # CV 1 % and 10 %: one steady figure, one flagged.
                "wsgi-sync-trivial": in_process([99.0, 101.0], handler="wsgi"),
                "asgi-sync-trivial": in_process([90.0, 110.0], handler="asgi"),
            }
        },
        "servers-trivial": {
            "suite_seconds": 300.9,
            "cases": {
                "uvicorn.raw": {
                    "stats": stats.summarize([1000.0, 1040.0]),
                    "unstable": False,
                }
            },
        },
    }
    stats.add_summaries(groups)
    data = {
        "schema_version": 1,
        "date": "2026-01-02T03:04:05Z",
        "duration_seconds": 512.4,
        "command": ["python", "-m", "bench", "run"],
        "machine": {"cpu_model": "Example CPU", "cpu_count": 2},
        "software": {"python": "3.13.0", "django": "6.1.3", "asgiref": "3.13.0"},
        "settings": {
            "processes": 1,
            "values": 2,
            "value_seconds": 0.1,
            "warmup_seconds": 0.1,
            "cv_threshold": stats.CV_THRESHOLD,
        },
        "groups": groups,
    }
    if with_times:
        data["suite_seconds"] = {"cases": 101.2, "servers": 300.9}
    return data


def build_text(tmp_path, data) -> str:
    directory = tmp_path / "src" / "data"
    directory.mkdir(parents=True)
    (directory / "full-1.json").write_text(json.dumps(data))
    srcdir = write_project(tmp_path / "src", CONF, {"page.md": PAGE})
    result = sphinx_build(srcdir, "html")
    html = (result.outdir / "page.html").read_text()
    text = re.sub(r"<[^>]+>", " ", html).replace("\u00a0", " ")
    return " ".join(text.split())


def test_each_group_counts_its_figures_above_3_and_5_percent():
    rows = benchsteadiness.steadiness_rows(results())
    # request-paths: CVs of 1.4 % and 14.1 %; the median is their middle.
    assert rows[0] == ["request-paths", "in process", "2", "7.8\u00a0%", "1", "1"]
    assert rows[1][:3] == ["servers-trivial", "suite", "1"]


def test_only_flagged_in_process_figures_are_listed_with_their_reason():
    rows = benchsteadiness.flagged_rows(results())
    assert [row[0] for row in rows] == ["request-paths/asgi-sync-trivial"]
    assert rows[0][2] == stats.HAND_OFF


def test_the_page_renders_both_tables_and_the_times(tmp_path):
    text = build_text(tmp_path, results())
    assert "request-paths in process 2 7.8 % 1 1" in text
    assert "request-paths/asgi-sync-trivial 14.1 %" in text
    assert "cases 101 s servers 301 s all of it 512 s" in text
    assert "The servers took 301 s" in text


def test_a_run_without_times_says_so(tmp_path):
    text = build_text(tmp_path, results(with_times=False))
    assert "This run predates the harness recording each suite" in text
