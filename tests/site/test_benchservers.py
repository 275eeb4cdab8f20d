"""The server benchmarks' figures, tables and plots render from the data."""

import json
import re

from bench import stats
from tests.support.sphinx import sphinx_build, write_project

CONF = """
extensions = ["myst_parser", "_ext.benchdata"]
source_suffix = {".md": "markdown"}
benchdata_results_glob = "data/full-*.json"
benchdata_page = "servers"
root_doc = "servers"
"""

PAGE = """\
# Servers

(bench-environment)=

```{bench-table} servers-trivial
```

```{bench-table} servers-check-all
```

```{bench-table} servers-sse
```

```{bench-plot} servers-trivial
:alt: Requests per second of each server
```

```{bench-plot} servers-sse
:alt: Threads by streams opened
```

rps {bench}`servers-trivial/uvicorn.async-view/rps`;
p50 {bench}`servers-trivial/uvicorn.async-view/p50`;
p99 {bench}`servers-trivial/uvicorn.async-view/p99`;
share {bench}`servers-trivial/uvicorn.async-view/share`;
times {bench}`servers-trivial/uvicorn.async-view/times`;
ratio {bench}`servers-trivial/uvicorn.async-view/ratio`;
cv {bench}`servers-trivial/uvicorn.raw/cv`;
async {bench}`servers-check-all/uvicorn.async-view/latency`;
sync {bench}`servers-check-all/gunicorn-sync.sync-view/latency`;
held {bench}`servers-sse/uvicorn.async-view/held` of
{bench}`servers-sse/uvicorn.async-view/target`;
rss {bench}`servers-sse/uvicorn.async-view/rss`;
threads {bench}`servers-sse/uvicorn.async-view/threads`;
at {bench}`servers-sse/gunicorn-gthread.sync-view/at`;
probe {bench}`servers-sse/uvicorn.async-view/probe`;
blocked {bench}`servers-sse/gunicorn-gthread.sync-view/probe`;
lag {bench}`servers-trivial/uvicorn.async-view/lag50`,
{bench}`servers-trivial/uvicorn.async-view/lag99`,
{bench}`servers-trivial/uvicorn.async-view/lagmax`;
wrk {bench}`groups/servers-trivial/setup/wrk`.
"""


def wrk_case(
    server, app, view, rates, p50, p99, interface="asgi", baseline=None, lag=None
):
    summary = stats.summarize(rates)
    case = {
        "label": f"{'raw app' if app == 'raw' else 'Django, ' + view + ' view'}"
        f" on {server}",
        "params": {
            "server": server,
            "app": app,
            "view": view,
            "interface": interface,
            "path": f"/{view}/",
        },
        "unit": "requests/s",
        "stats": summary,
        "unstable": summary["cv"] > stats.CV_THRESHOLD,
        "latency_ms": {"p50": p50, "p90": p50, "p99": p99, "mean": p50},
    }
    if baseline:
        case["baseline"] = baseline
    if lag:
        lag50, lag99, lagmax = lag
        case["loop_lag_ms"] = {"p50": lag50, "p99": lag99, "max": lagmax}
    return case


def stream_case(server, view, steps, per_stream):
    return {
        "label": f"Django, {view} event stream on {server}",
        "params": {"server": server, "view": view, "probe_timeout_seconds": 1.0},
        "unit": "streams",
        "steps": steps,
        "per_stream": per_stream,
        "stats": stats.summarize([max(step["held"] for step in steps)]),
        "unstable": False,
    }


def step(target, held, rss_mib, threads, probe_ms):
    return {
        "target": target,
        "held": held,
        "rss_bytes": rss_mib * 2**20,
        "threads": threads,
        "probe_ms": probe_ms,
    }


def results():
    setup = {"wrk": "4.1.0", "workers": 1, "gthread_threads": 10}
    groups = {
        "servers-trivial": {
            "title": "A trivial view",
            "setup": setup,
            "cases": {
                "uvicorn.raw": wrk_case(
                    "uvicorn", "raw", "raw", [9000, 11000], 5, 7, lag=(0.2, 0.9, 1.4)
                ),
                "uvicorn.async-view": wrk_case(
                    "uvicorn",
                    "django",
                    "async",
                    [300, 300],
                    150,
                    1500,
                    "asgi",
                    "uvicorn.raw",
                    lag=(2.5, 31.25, 1250),
                ),
            },
        },
        "servers-check-all": {
            "title": "Fifty services",
            "cases": {
                "uvicorn.async-view": wrk_case(
                    "uvicorn", "django", "async", [3, 3], 330, 340, lag=(1, 2, 3)
                ),
                "gunicorn-sync.sync-view": wrk_case(
                    "gunicorn-sync", "django", "sync", [0.08], 12250, 12250, "wsgi"
                ),
            },
        },
        "servers-sse": {
            "title": "Streams",
            "cases": {
                "uvicorn.async-view": stream_case(
                    "uvicorn",
                    "async",
                    [step(0, 0, 60, 1, None), step(100, 100, 66, 101, 3.5)],
                    {"at": 100, "rss_kib": 61.44, "threads": 1.0},
                ),
                "gunicorn-gthread.sync-view": stream_case(
                    "gunicorn-gthread",
                    "sync",
                    [
                        step(0, 0, 50, 2, None),
                        step(10, 10, 51, 12, None),
                        step(100, 10, 52, 12, None),
                    ],
                    {"at": 10, "rss_kib": 102.4, "threads": 1.0},
                ),
            },
        },
    }
    stats.add_summaries(groups)
    return {
        "schema_version": 1,
        "date": "2026-01-02T03:04:05Z",
        "machine": {"cpu_model": "Example CPU", "cpu_count": 2},
        "software": {"python": "3.13.0", "django": "6.1.3", "asgiref": "3.13.0"},
        "settings": {"processes": 1, "cv_threshold": 0.05},
        "groups": groups,
    }


def build(tmp_path, page=PAGE, data=None):
    directory = tmp_path / "src" / "data"
    directory.mkdir(parents=True)
    (directory / "full-1.json").write_text(json.dumps(data or results()))
    srcdir = write_project(tmp_path / "src", CONF, {"servers.md": page})
    return sphinx_build(srcdir, "html")


def text_of(result) -> str:
    html = (result.outdir / "servers.html").read_text()
    return re.sub(r"<[^>]+>", "", html).replace("\u00a0", " ")


def test_server_figures_tables_and_plots_come_from_the_data(tmp_path):
    result = build(tmp_path)
    assert result.returncode == 0, result.output
    text = text_of(result)
    assert "rps 300 requests/s;" in text
    assert "p50 150 ms;" in text
    assert "p99 1.5 s;" in text
    assert "share 3.0%\u2020;" in text  # raw's runs disagree: flagged
    assert "times 33.3\u00d7\u2020;" in text
    assert "ratio 0.03\u00d7\u2020;" in text
    assert "cv 14.1%\u2020;" in text
    assert "async 330 ms;" in text
    assert "sync 12.2 s;" in text
    assert "held 100 of\n100;" in text
    assert "rss 61 KiB;" in text
    assert "threads 1.00;" in text
    assert "at 10;" in text
    assert "probe 3.5 ms;" in text
    assert "blocked no answer within 1 s;" in text
    assert "lag 2.5 ms,\n31.2 ms,\n1.2 s;" in text
    assert "wrk 4.1.0." in text
    # The load table: the raw app has no share, Django's is flagged.
    assert "10,000 requests/s\u2020 ± 1,414" in text
    assert "300 requests/s ± 0" in text
    # The loop lag, next to the throughput; a dash where there is no loop.
    assert "5.0 ms\n7.0 ms\n—\n0.2 ms / 0.9 ms\n" in text
    assert "330 ms\n2\n1.0 ms / 2.0 ms\n" in text
    assert "12.2 s\n1\n—\n" in text
    # The streams table: a row per step, a plain request that got no answer.
    assert "Django, sync event stream on gunicorn-gthread\n10\n10\n51.0 MiB\n12" in text
    assert text.count("no answer") == 3  # two table rows, one role
    html = (result.outdir / "servers.html").read_text()
    assert html.count('class="bench-plot"') == 2
    assert 'aria-label="Threads by streams opened"' in html
    assert ">10,000<" in html  # the bars are labelled with the mean
    assert ">9,000<" not in html


def test_an_unknown_server_field_fails_the_build_and_says_which(tmp_path):
    page = "# Servers\n\n{bench}`servers-sse/uvicorn.async-view/rps`\n"
    result = build(tmp_path, page)
    assert result.returncode != 0
    assert "unknown field 'rps' for a streams case" in result.output
    assert "held, target, rss, threads, workerthreads, at, probe" in result.output


def test_a_stream_case_without_per_stream_figures_fails_for_them(tmp_path):
    data = results()
    data["groups"]["servers-sse"]["cases"]["uvicorn.async-view"]["per_stream"] = {}
    page = "# Servers\n\n{bench}`servers-sse/uvicorn.async-view/rss`\n"
    result = build(tmp_path, page, data)
    assert result.returncode != 0
    assert "servers-sse/uvicorn.async-view has no per-stream figures" in result.output


def test_a_wsgi_case_has_no_loop_lag_and_says_so(tmp_path):
    page = "# Servers\n\n{bench}`servers-check-all/gunicorn-sync.sync-view/lag99`\n"
    result = build(tmp_path, page)
    assert result.returncode != 0
    assert "has no loop lag: only ASGI cases record it" in result.output


def test_data_from_before_loop_lag_renders_not_in_this_run(tmp_path):
    data = results()
    for group in data["groups"].values():
        for case in group["cases"].values():
            case.pop("loop_lag_ms", None)
    page = "# Servers\n\nlag {bench}`servers-trivial/uvicorn.async-view/lag99`\n"
    result = build(tmp_path, page, data)
    assert result.returncode == 0, result.output
    assert "lag not in this run" in text_of(result)
