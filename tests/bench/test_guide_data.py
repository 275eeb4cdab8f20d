"""Tests of bench/guide_data.py, the suite behind the ORM and templates guides."""

import json
import os
import subprocess
import sys

import pytest

from bench import guide_data
from bench.cases import SUITES
from bench.cli import ROOT
from bench.stats import add_summaries


def test_the_suite_is_registered():
    assert SUITES["guide-data"].load() is guide_data.run


def test_rows_at_interpolates_between_the_measured_points():
    points = [(10, 500.0), (100, 5_000.0), (1000, 50_000.0)]
    assert guide_data.rows_at(points, 1_000) == 20
    assert guide_data.rows_at(points, 10_000) == 200


def test_rows_at_extrapolates_past_the_last_point():
    points = [(10, 100.0), (100, 1_000.0)]
    assert guide_data.rows_at(points, 10_000) == 1000


def test_rows_at_extrapolates_below_the_first_point():
    points = [(10, 2_000.0), (100, 20_000.0)]
    assert guide_data.rows_at(points, 1_000) == 5


# One worker run, as short as the timing allows.
TIMING = {"values": 1, "value_seconds": 0.001, "warmup_seconds": 0}


def run_worker(*options: str, sqlite: bool = False) -> dict:
    """``python -m bench.guide_data``'s records, on SQLite or $DATABASE_URL."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env["DJANGO_SETTINGS_MODULE"] = "sampleproject.settings.test"
    if sqlite:
        env.pop("DATABASE_URL", None)
    out = subprocess.run(
        [sys.executable, "-m", "bench.guide_data", json.dumps(TIMING), *options],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    return json.loads(out)


@pytest.fixture(scope="module")
def records():
    """One real worker run on SQLite."""
    runs = {
        ("sqlite", key): [dict(run, process=0)]
        for key, run in run_worker(sqlite=True).items()
    }
    return guide_data.groups(runs, TIMING, 1, [])


def test_a_run_measures_every_sqlite_case_the_pages_may_cite(records):
    measured = {
        f"{group}/{name}" for group, data in records.items() for name in data["cases"]
    }
    sqlite = {key for key in guide_data.KNOWN_CASES if "/pg-" not in key}
    assert measured == sqlite
    assert set(records) == guide_data.KNOWN_GROUPS


def test_the_typical_view_records_four_hops_and_the_one_hop_view_one(records):
    cases = records["guide-orm"]["cases"]
    assert cases["view-a-methods"]["runs"][0]["hops"]["sync_to_async"] == 4
    assert cases["view-one-hop"]["runs"][0]["hops"]["sync_to_async"] == 1
    assert cases["gather-10"]["runs"][0]["hops"]["sync_to_async"] == 10
    assert cases["gather-10"]["baseline"] == "in-turn-10"


def test_the_thresholds_are_row_counts_for_each_engine(records):
    thresholds = records["guide-templates"]["thresholds"]
    for engine in guide_data.ENGINES:
        assert 1 <= thresholds[engine]["rows_1ms"] <= thresholds[engine]["rows_10ms"]


def test_the_groups_summarize(records):
    add_summaries(records)
    case = records["guide-templates"]["cases"]["jinja2-100"]
    assert case["stats"]["n"] == 1
    assert "ratio" in case


def test_native_cases_compare_with_their_wrapped_counterparts():
    run = {"process": 0, "values_us": [1.0]}
    records = {
        ("native", "guide-orm/view"): [run],
        ("native", "guide-orm/wait-gather-10"): [run],
        ("postgresql", "guide-orm/wait-gather-10"): [run],
    }
    cases = guide_data.groups(records, {}, 1, [])["guide-orm"]["cases"]
    assert cases["pg-native-view"]["baseline"] == "pg-view-a-methods"
    assert cases["pg-native-wait-gather-10"]["baseline"] == "pg-wait-gather-10"
    assert cases["pg-wait-gather-10"]["baseline"] == "pg-wait-in-turn-10"
    assert set(cases) <= {key.split("/")[1] for key in guide_data.KNOWN_CASES}


@pytest.mark.needs_service("postgres")
def test_the_postgresql_worker_measures_queries_and_renders_no_template():
    # groups() keeps SQLite's renders only: PostgreSQL's would be time lost.
    records = run_worker()
    assert "guide-orm/wait-gather-10" in records
    assert not [key for key in records if key.startswith("guide-templates/")]


@pytest.mark.needs_service("postgres")
def test_the_native_worker_makes_no_hop():
    pytest.importorskip("django_async_backend")
    records = run_worker("--native")
    assert set(records) == {f"guide-orm/{name}" for name in guide_data.NATIVE_CASES}
    assert all(record["hops"]["sync_to_async"] == 0 for record in records.values())
