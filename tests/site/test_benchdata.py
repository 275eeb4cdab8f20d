"""The benchmark figures extension renders results files, and refuses bad ones."""

import json
import re

import pytest

from bench import stats
from tests.support.sphinx import sphinx_build, write_project

CONF = """
extensions = ["myst_parser", "_ext.benchdata"]
source_suffix = {{".md": "markdown"}}
benchdata_results_glob = {pattern!r}
benchdata_page = "results"
root_doc = {root!r}
"""

PAGE = """\
# Results

(bench-environment)=

## The run

```{bench-environment}
```

```{bench-table} request-paths
```

```{bench-table} middleware
```

```{bench-table} bridges
```

ASGI: {bench}`request-paths/asgi-sync-trivial/ratio`;
mean {bench}`request-paths/wsgi-sync-trivial/mean`;
extra {bench}`middleware/sync-10/extra`;
cv {bench}`bridges/async-to-sync/cv`;
on {bench}`machine/cpu_model` with Django {bench}`software/django`,
{bench}`machine/memory`, {bench}`date`, {bench}`settings/processes` processes.
"""

OTHER = "# Other\n\nIt costs {bench}`request-paths/asgi-sync-trivial/mean`.\n"


def results(date="2026-01-02T03:04:05Z", django="6.1.3", wobbly=("bridges/x",)):
    """A results file as the harness writes it, with made-up, steady values."""

    def case(mean, label="", unstable=False):
        spread = mean * 0.2 if unstable else mean * 0.01
        values = [mean - spread, mean + spread]
        return {"label": label, "runs": [{"process": 0, "values_us": values}]}

    names = {
        "request-paths": {
            "wsgi-sync-trivial": 40.0,
            "wsgi-async-trivial": 400.0,
            "asgi-sync-trivial": 800.0,
            "asgi-async-trivial": 600.0,
            "wsgi-sync-orm": 1000.0,
            "wsgi-async-orm": 1500.0,
            "asgi-sync-orm": 1600.0,
            "asgi-async-orm": 2000.0,
        },
        "middleware": {"none": 600.0}
        | {f"sync-{n}": 800.0 + n for n in (1, 5, 10)}
        | {f"async-{n}": 600.0 + n for n in (1, 5, 10)},
        "bridges": {
            "sync-to-async-sensitive": 100.0,
            "sync-to-async-sensitive-new-context": 300.0,
            "sync-to-async-insensitive": 90.0,
            "async-to-sync": 400.0,
        },
    }
    groups = {
        group: {
            "title": group,
            "cases": {
                name: case(mean, f"label {name}", f"{group}/{name}" in wobbly)
                for name, mean in cases.items()
            },
        }
        for group, cases in names.items()
    }
    stats.add_summaries(groups)
    return {
        "schema_version": 1,
        "date": date,
        "mode": "full",
        "command": ["python", "-m", "bench", "run"],
        "duration_seconds": 300.0,
        "machine": {
            "cpu_model": "Example CPU",
            "cpu_count": 4,
            "memory_bytes": 8 * 2**30,
            "kernel": "Linux 6.1",
        },
        "software": {
            "python": "3.13.0",
            "python_implementation": "CPython",
            "django": django,
            "asgiref": "3.13.0",
        },
        "settings": {
            "processes": 10,
            "values": 5,
            "value_seconds": 0.1,
            "warmup_seconds": 0.3,
            "cv_threshold": 0.05,
        },
        "groups": groups,
    }


def build(tmp_path, pages, files=None, pattern="data/full-*.json", root="results"):
    files = {"full-1.json": results()} if files is None else files
    data = tmp_path / "src" / "data"
    data.mkdir(parents=True)
    for name, content in files.items():
        text = content if isinstance(content, str) else json.dumps(content)
        (data / name).write_text(text)
    conf = CONF.format(pattern=pattern, root=root)
    srcdir = write_project(tmp_path / "src", conf, pages)
    return sphinx_build(srcdir, "html")


def html_of(result, page="results"):
    return (result.outdir / f"{page}.html").read_text()


def test_tables_roles_and_environment_come_from_the_data(tmp_path):
    pages = {"index.md": "# Home\n\n```{toctree}\nresults\nother\n```\n"}
    pages |= {"results.md": PAGE, "other.md": OTHER}
    result = build(tmp_path, pages, root="index")
    assert result.returncode == 0, result.output
    html = html_of(result)
    assert 'ASGI: <span class="bench-figure">20.00\u00d7</span>' in html
    assert 'mean <span class="bench-figure">40.0\u00a0µs</span>' in html
    assert 'extra <span class="bench-figure">200\u00a0µs</span>' in html
    assert 'cv <span class="bench-figure">1.4%</span>' in html
    text = re.sub(r"<[^>]+>", "", html)
    assert "on Example CPU with Django 6.1.3" in text
    assert "8\u00a0GiB, 2026-01-02, 10 processes" in text
    # The tables: every path, its spread and its ratio.
    assert "1,000\u00a0µs ± 14.1\u00a0µs" in html  # wsgi-sync-orm
    assert html.count("1.00\u00d7") == 2  # each workload's baseline
    assert "label sync-to-async-sensitive-new-context" in html
    assert "Example CPU, 4 cores, 8\u00a0GiB of memory" in html
    assert '<code class="docutils literal notranslate"><span class="pre">' in html
    # Nothing is flagged: no dagger, no note.
    assert "\u2020" not in html
    # Elsewhere, a figure links to the run it comes from.
    other = html_of(result, "other")
    assert 'href="results.html#bench-environment"' in other
    assert "800\u00a0µs" in other


def test_unstable_figures_are_marked(tmp_path):
    files = {"full-1.json": results(wobbly=("request-paths/asgi-sync-trivial",))}
    pages = {"results.md": PAGE}
    result = build(tmp_path, pages, files)
    assert result.returncode == 0, result.output
    html = html_of(result)
    marker = '<abbr class="bench-unstable" title="coefficient of variation above 5%'
    # In the table: the mean and the ratio; in the text: the ratio.
    assert html.count(marker) == 3
    assert "repeated runs disagree; treat as rough." in html


def test_the_newest_run_wins(tmp_path):
    files = {
        "full-a.json": results(date="2026-03-01T00:00:00Z", django="6.1.3"),
        "full-b.json": results(date="2026-02-01T00:00:00Z", django="6.1.2"),
    }
    result = build(tmp_path, {"results.md": PAGE}, files)
    assert result.returncode == 0, result.output
    assert "Django 6.1.3" in html_of(result)
    assert "full-a.json" in html_of(result)


def test_no_results_stop_the_build_with_what_to_run(tmp_path):
    result = build(tmp_path, {"results.md": PAGE}, files={})
    assert result.returncode != 0
    assert "no benchmark results match 'data/full-*.json'" in result.output
    assert "make bench" in result.output


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "cannot read benchmark results"),
        (json.dumps({"schema_version": 99}), "schema_version 99"),
        (json.dumps({"schema_version": 1, "date": "x"}), "missing machine"),
    ],
)
def test_unreadable_results_stop_the_build(tmp_path, content, message):
    result = build(tmp_path, {"results.md": PAGE}, {"full-1.json": content})
    assert result.returncode != 0
    assert message in result.output


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{bench}`request-paths/nope/mean`", "no case 'nope' in group 'request-paths'"),
        ("{bench}`versions/x/mean`", "no group 'versions'"),
        ("{bench}`bridges/async-to-sync/p99`", "unknown field 'p99'"),
        ("{bench}`bridges/async-to-sync/ratio`", "has no 'ratio' figure"),
        ("{bench}`machine/gpu`", "no 'machine/gpu'"),
        ("{bench}`bridges`", "expected GROUP/CASE/FIELD"),
        ("```{bench-table} nope\n```", "unknown benchmark table 'nope'"),
    ],
)
def test_a_missing_key_fails_the_build_and_names_it(tmp_path, text, message):
    result = build(tmp_path, {"results.md": f"# Results\n\n{text}\n"})
    assert result.returncode != 0
    assert message in result.output


def test_a_table_whose_case_is_missing_fails(tmp_path):
    data = results()
    data["command"] = ["python", "-m", "bench", "run", "--only", "middleware"]
    del data["groups"]["middleware"]["cases"]["sync-5"]
    page = "# Results\n\n```{bench-table} middleware\n```\n"
    result = build(tmp_path, {"results.md": page}, {"full-1.json": data})
    assert result.returncode != 0
    assert "bench-table middleware: no case 'sync-5'" in result.output


def test_a_case_newer_than_a_full_run_renders_as_not_in_this_run(tmp_path):
    data = results()
    middleware = data["groups"]["middleware"]["cases"]
    middleware["startproject"] = dict(middleware["sync-1"])
    middleware["startproject"]["runs"] = [
        {"process": 0, "values_us": [900.0], "hops": {"sync_to_async": 15.0}}
    ]
    page = (
        "# Results\n\n```{bench-table} startproject-middleware\n```\n\n"
        "Hops {bench}`middleware/startproject/hops`;"
        " native {bench}`middleware/async-native/mean`.\n"
    )
    result = build(tmp_path, {"results.md": page}, {"full-1.json": data})
    assert result.returncode == 0, result.output
    html = html_of(result)
    assert "Hops <span" in html
    assert ">15</span>" in html
    # The role; async-native's three cells; no hop count for "none" either.
    assert html.count(">not in this run<") == 5
    unknown = page.replace("async-native/mean", "async-natve/mean")
    result = build(tmp_path / "b", {"results.md": unknown}, {"full-1.json": data})
    assert result.returncode != 0
    assert "no case 'async-natve'" in result.output


def test_a_suite_case_or_group_newer_than_a_full_run_renders_as_not_in_this_run(
    tmp_path,
):
    # bench/guide_calls.py declares its cases and groups; the data predates them.
    page = (
        "# Results\n\nHop {bench}`guide-cache/locmem-aget/hops`;"
        " over {bench}`guide-executor/one-over/ratio`;"
        " workers {bench}`groups/guide-executor/max_workers`.\n"
    )
    result = build(tmp_path, {"results.md": page})
    assert result.returncode == 0, result.output
    assert html_of(result).count(">not in this run<") == 3
    unknown = page.replace("locmem-aget", "locmem-agte")
    result = build(tmp_path / "b", {"results.md": unknown})
    assert result.returncode != 0
    assert "no group 'guide-cache'" in result.output
