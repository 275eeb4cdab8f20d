"""The attribution page's chart, table and figures render from the data."""

import json
import re

from bench import attribution
from tests.support.sphinx import sphinx_build, write_project

CONF = """
extensions = ["myst_parser", "_ext.benchdata"]
source_suffix = {".md": "markdown"}
benchdata_results_glob = "data/full-*.json"
benchdata_page = "attribution"
root_doc = "attribution"
"""

PAGE = """\
# Attribution

(bench-environment)=

```{attribution-plot}
:alt: A stacked bar per path
```

```{attribution-table}
```

total {attribution}`asgi-async-none/total`;
hops {attribution}`asgi-async-none/hops`;
count {attribution}`asgi-async-startproject/count/sync_to_async`;
explained {attribution}`asgi-async-none/explained`;
cpu {attribution}`cpu/asgi-async-none/explained`;
rest {attribution}`asgi-async-none/unattributed`;
range {attribution}`lowest-explained` to {attribution}`highest-explained`;
threads {attribution}`asgi-async-none/threads`,
{attribution}`asgi-async-none/threads-share`;
unit {attribution}`unit/executor-thread`;
fall {attribution}`causal/asgi-async-none-no-context/measured` of
{attribution}`causal/asgi-async-none-no-context/predicted`,
{attribution}`causal/asgi-async-none-no-context/ratio`,
agrees {attribution}`causal/asgi-async-none-no-context/agrees`
within {attribution}`causal/tolerance`.
"""

# One round per process, microseconds: whole numbers keep the sums exact.
MEDIANS = {
    "part-view-sync": 2.0,
    "part-view-async": 3.0,
    "part-hop": 20.0,
    # The thread starts are measured beside a core request (60).
    "part-hop-then-request": 80.0,
    "part-new-context": 160.0,
    "part-join-thread": 90.0,
    "part-async-to-sync": 150.0,
    "part-task": 5.0,
    "asgi-async-none-no-context": 150.0,
    "asgi-async-startproject-async-native": 200.0,
    "core-asgi-async-startproject-async-native": 70.0,
}


def counts(name: str) -> dict:
    handler, view, middleware = name.split("-", 2)
    found = dict.fromkeys(
        ("sync_to_async", "thread_sensitive", "async_to_sync", "tasks"), 0
    )
    found.update(executor_threads=0, other_threads=0)
    if handler == "asgi":
        hops = 2 + (view == "sync") + (13 if middleware != "none" else 0)
        found.update(sync_to_async=hops, thread_sensitive=hops, tasks=1)
        found.update(executor_threads=1, other_threads=1)
    elif view == "async":
        found.update(async_to_sync=1, executor_threads=1)
    return found


def record() -> dict:
    values = {}
    for name in attribution.path_names():
        values[f"total/{name}"] = 300.0 if name == "asgi-async-none" else 400.0
        values[f"core/{name}"] = 60.0 if name.endswith("none") else 90.0
    for name, value in MEDIANS.items():
        kind = "micro" if name.startswith("part-") else "removal"
        if name.startswith("core-"):
            values[f"core/{name[5:]}"] = value
        else:
            values[f"{kind}/{name.removeprefix('part-')}"] = value
    # Switched cores that switching slows by nothing: core plus crossings.
    for name in (*attribution.SWITCHED, "asgi-async-startproject-async-native"):
        count = counts(name if name in attribution.path_names() else "asgi-async-none")
        crossings = count["sync_to_async"] * 20.0 + count["async_to_sync"] * 150.0
        values[f"switched/{name}"] = values[f"core/{name}"] + crossings
    series = {key: [value] for key, value in values.items()}
    # In CPU time, the same parts of a shorter total.
    cpu = {**series, "total/asgi-async-none": [200.0]}
    return {
        "process": 0,
        "django": "6.1",
        "values_us": series,
        "cpu_us": cpu,
        "counts": {
            **{name: counts(name) for name in attribution.path_names()},
            "asgi-async-none-no-context": {
                **counts("asgi-async-none"),
                "executor_threads": 0,
                "other_threads": 0,
            },
            "asgi-async-startproject-async-native": counts("asgi-async-none"),
        },
    }


def results(groups: dict) -> dict:
    return {
        "schema_version": 1,
        "mode": "full",
        "date": "2026-12-05T00:00:00Z",
        "command": ["python", "-m", "bench", "run"],
        "duration_seconds": 1,
        "machine": {},
        "software": {},
        "settings": {},
        "groups": groups,
    }


def build(tmp_path, page, data):
    directory = tmp_path / "src" / "data"
    directory.mkdir(parents=True)
    (directory / "full-1.json").write_text(json.dumps(data))
    srcdir = write_project(tmp_path / "src", CONF, {"attribution.md": page})
    return sphinx_build(srcdir, "html")


def html_of(result) -> str:
    return (result.outdir / "attribution.html").read_text()


def text_of(result) -> str:
    return re.sub(r"<[^>]+>", "", html_of(result)).replace("\u00a0", " ")


def test_the_breakdown_of_a_path_adds_up():
    group = attribution.build_group([record()])
    path = group["breakdown"]["asgi-async-none"]
    # core 60 - view 3 - one task 5; new context 160 - hop and request 80
    # - join 30 (90 less the request).
    assert path["parts"] == {
        "handler": 52.0,
        "view": 3.0,
        "middleware": 0.0,
        "tasks": 5.0,
        "hops": 40.0,
        "async-to-sync": 0.0,
        "switches": 0.0,
        "executor-thread": 50.0,
        "join-thread": 30.0,
    }
    assert path["unattributed_us"] == 300 - 180
    # An async_to_sync's own thread is inside its cost, not counted again.
    wsgi = group["breakdown"]["wsgi-async-none"]["parts"]
    assert wsgi["async-to-sync"] == 150.0
    assert wsgi["executor-thread"] == 0.0
    check = group["causal"]["asgi-async-none-no-context"]
    assert (check["predicted_us"], check["measured_us"]) == (80.0, 150.0)


def test_figures_table_and_chart_come_from_the_data(tmp_path):
    group = attribution.build_group([record()])
    result = build(tmp_path, PAGE, results({attribution.GROUP: group}))
    assert result.returncode == 0, result.output
    text = text_of(result)
    assert "total 300 µs;" in text
    assert "hops 40.0 µs;" in text
    assert "count 15;" in text
    assert "explained 60%;" in text
    assert "cpu 90%;" in text
    assert "rest 120 µs;" in text
    assert "range 15% (sync view, WSGI) to 123% (sync view, ASGI, 7 mw);" in text
    assert "threads 120 µs,\n40%;" in text
    assert "unit 50.0 µs;" in text
    assert "fall 150 µs of\n80.0 µs,\n188%,\nagrees no\nwithin ±30%." in text
    html = html_of(result)
    # One bar segment per non-zero part of each path, each with its tooltip.
    segment = "<title>the request&#x27;s thread: 50.0\u00a0µs</title>"
    assert html.count(segment) == 4
    assert 'aria-label="A stacked bar per path"' in html
    assert re.search(r"<th[^>]*>\s*<p>sync view, WSGI, 7 mw</p>", html)


def test_a_run_that_predates_the_suite_says_not_in_this_run(tmp_path):
    result = build(tmp_path, PAGE, results({}))
    assert result.returncode == 0, result.output
    text = text_of(result)
    assert "total not in this run;" in text
    assert "Plot of a stacked bar per path: not in this run" in text


def test_an_unknown_figure_fails_the_build_with_the_names_to_use(tmp_path):
    group = attribution.build_group([record()])
    page = "# A\n\n{attribution}`asgi-async-none/nonsense`\n"
    result = build(tmp_path, page, results({attribution.GROUP: group}))
    assert result.returncode != 0
    assert "expected <path>/<total|explained|unattributed|threads" in result.output


def test_a_part_the_run_predates_says_not_in_this_run(tmp_path):
    group = attribution.build_group([record()])
    for path in group["breakdown"].values():
        del path["parts"]["switches"]
    page = PAGE + "\nnew part {attribution}`asgi-async-none/switches`.\n"
    result = build(tmp_path, page, results({attribution.GROUP: group}))
    assert result.returncode == 0, result.output
    assert "new part not in this run." in text_of(result)
