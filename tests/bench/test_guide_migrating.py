"""The guide-migrating suite (bench/guide_migrating.py): its worker and its group."""

import subprocess
import sys
from pathlib import Path

import pytest

from bench import guide_migrating
from bench.cases import SUITES
from tests.support.bench import quick_run

ROOT = Path(__file__).resolve().parents[2]


def test_the_suite_is_registered():
    assert SUITES["guide-migrating"].load() is guide_migrating.run


@pytest.mark.parametrize(
    "argv",
    [[], ["not json"], ["[1, 2]"], ['{"values": 1}'], ["{}", "extra"]],
)
def test_a_bad_command_line_gets_the_usage_not_a_traceback(argv):
    result = subprocess.run(
        [sys.executable, "-m", "bench.guide_migrating", *argv],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("usage: python -m bench.guide_migrating")
    assert "Traceback" not in result.stderr


def test_a_quick_run_measures_every_step(tmp_path):
    data, _ = quick_run(tmp_path, "guide-migrating")
    group = data["groups"]["guide-migrating"]
    assert group["suite"] == "guide-migrating"
    cases = group["cases"]
    assert {f"guide-migrating/{name}" for name in cases} == guide_migrating.KNOWN_CASES
    assert cases["service-step2-asgi"]["ratio"]["of"] == "service-step1-wsgi"
    assert cases["summary-async-asgi"]["ratio"]["of"] == "summary-sync-asgi"
    # The same thread hops as the guide's table (tests/snippets/guides/
    # test_migrating.py), as sync_to_async plus async_to_sync calls.
    hops = {
        name: {
            run["hops"]["sync_to_async"] + run["hops"]["async_to_sync"]
            for run in case["runs"]
        }
        for name, case in cases.items()
        if name != "service-step1-wsgi"
    }
    assert hops == {
        "service-step2-asgi": {18},
        "service-step4-asgi": {16},
        "service-step5-asgi": {19},
        "summary-sync-asgi": {16},
        "summary-async-asgi": {17},
    }
    assert all(case["stats"]["n"] >= 1 for case in cases.values())
