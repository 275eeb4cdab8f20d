"""The guide-apis suite (bench/guide_apis.py): its worker and its group."""

import json
import subprocess
import sys
from pathlib import Path

from bench import guide_apis
from bench.cases import SUITES

ROOT = Path(__file__).resolve().parents[2]
ROWS = guide_apis.ROWS
# One list request, no middleware: ASGIHandler's own two hops (the
# request_started signal, response.close()) plus the stack's
# (tests/snippets/guides/test_rest_apis.py counts them with fewer rows).
HOPS = {
    "plain-wsgi": {"sync_to_async": 1, "async_to_sync": 1},
    "plain-asgi": {"sync_to_async": 3, "async_to_sync": 0},
    "drf-wsgi": {"sync_to_async": 0, "async_to_sync": 0},
    "drf-asgi": {"sync_to_async": 4, "async_to_sync": 0},
    "adrf-wsgi": {"sync_to_async": 2 + 5 * ROWS, "async_to_sync": 1},
    "adrf-asgi": {"sync_to_async": 5 + 5 * ROWS, "async_to_sync": 0},
    "ninja-wsgi": {"sync_to_async": 1, "async_to_sync": 1},
    "ninja-asgi": {"sync_to_async": 3, "async_to_sync": 0},
}


def bench(*args, timeout=120):
    return subprocess.run(
        [sys.executable, "-m", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=timeout,
    )


def test_the_suite_is_registered():
    assert SUITES["guide-apis"].load() is guide_apis.run


def test_a_quick_run_times_every_stack_on_both_handlers(tmp_path):
    output = tmp_path / "out.json"
    result = bench(
        "bench", "run", "--quick", "--only", "guide-apis", "--output", str(output)
    )
    assert result.returncode == 0, result.stderr
    group = json.loads(output.read_text())["groups"]["guide-apis"]
    assert group["suite"] == "guide-apis"
    assert group["rows"] == ROWS
    assert set(group["cases"]) == set(HOPS)
    recorded = {f"guide-apis/{name}" for name in group["cases"]}
    assert recorded == guide_apis.KNOWN_CASES
    for name, case in group["cases"].items():
        assert case["stats"]["n"] == 2  # 1 process x 2 values
        assert case.get("baseline") == (None if name == "drf-wsgi" else "drf-wsgi")
        for run in case["runs"]:
            counted = {key: run["hops"][key] for key in HOPS[name]}
            assert counted == HOPS[name], name
        # The count a flagged figure's reason reads (bench.stats.reason).
        assert case["params"] == {"hops": sum(HOPS[name].values())}, name


def test_the_worker_refuses_a_missing_database_in_one_line(tmp_path):
    result = bench("bench.guide_apis", "measure", str(tmp_path / "none.sqlite3"))
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"guide-apis measure: ValueError: no database at {tmp_path}/none.sqlite3:"
        " run prepare first"
    )


def test_the_worker_refuses_bad_timing_in_one_line(tmp_path):
    result = bench("bench.guide_apis", "prepare", str(tmp_path / "db"), "--timing", "{")
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert "JSONDecodeError" in result.stderr
