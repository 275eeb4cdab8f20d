"""The stream recipe's figures (bench/stream_recipe.py) render from the data."""

import json

from bench import stream_recipe
from tests.site.test_benchservers import CONF, text_of
from tests.support.sphinx import sphinx_build, write_project


def case(app, target, threads, rss_mib, event):
    base = {"target": 0, "held": 0, "rss_bytes": 40 * 2**20, "threads": 1}
    step = {
        "target": target,
        "held": target,
        "rss_bytes": rss_mib * 2**20,
        "threads": threads,
        "probe_ms": 4.0,
    }
    return stream_recipe.case_entry(
        app,
        base,
        step,
        {"received": target, "p50": event, "p99": 2 * event, "max": 3 * event},
    )


def build(tmp_path, page, data):
    directory = tmp_path / "src" / "data"
    directory.mkdir(parents=True)
    (directory / "full-1.json").write_text(json.dumps(data))
    srcdir = write_project(tmp_path / "src", CONF, {"servers.md": page})
    return sphinx_build(srcdir, "html")


def results():
    cases = {
        "uvicorn.default-1000": case("default", 1000, 1001, 97, 40.0),
        "uvicorn.recipe-1000": case("recipe", 1000, 2, 73, 50.0),
    }
    group = {"title": stream_recipe.TITLE, "cases": cases, "skipped": []}
    return {
        "schema_version": 1,
        "mode": "full",
        "date": "2026-12-05T00:00:00Z",
        "command": "python -m bench run --only streams",
        "duration_seconds": 1,
        "machine": {},
        "software": {},
        "settings": {},
        "groups": {stream_recipe.GROUP: group},
    }


PAGE = """\
# Servers

(bench-environment)=

threads {bench}`streams-recipe/uvicorn.default-1000/workerthreads` and
{bench}`streams-recipe/uvicorn.recipe-1000/workerthreads`;
per stream {bench}`streams-recipe/uvicorn.recipe-1000/threads`;
rss {bench}`streams-recipe/uvicorn.recipe-1000/rss`;
event {bench}`streams-recipe/uvicorn.default-1000/event50`,
{bench}`streams-recipe/uvicorn.default-1000/event99`,
{bench}`streams-recipe/uvicorn.default-1000/eventmax`.
"""


def test_stream_recipe_figures_come_from_the_data(tmp_path):
    result = build(tmp_path, PAGE, results())
    assert result.returncode == 0, result.output
    text = text_of(result)
    assert "threads 1,001 and\n2;" in text
    assert "per stream 0.00;" in text
    assert "rss 34 KiB;" in text  # (73 - 40) MiB over 1,000 streams
    assert "event 40.0 ms,\n80.0 ms,\n120 ms." in text


def test_a_case_that_timed_no_event_fails_for_event_fields(tmp_path):
    data = results()
    del data["groups"]["streams-recipe"]["cases"]["uvicorn.default-1000"]["event_ms"]
    page = "# S\n\n{bench}`streams-recipe/uvicorn.default-1000/event50`\n"
    result = build(tmp_path, page, data)
    assert result.returncode != 0
    assert "timed no event" in result.output
