"""The guide-calls suite (bench/guide_calls.py): its workers and its groups."""

import os
from pathlib import Path

import pytest

from bench import guide_calls
from bench.cases import SUITES
from tests.support.bench import quick_run

ROOT = Path(__file__).resolve().parents[2]
SLEEP_US = guide_calls.SLEEP_SECONDS * 1e6


def test_the_suite_is_registered():
    assert SUITES["guide-calls"].load() is guide_calls.run


def test_one_call_over_the_default_executor_waits_for_a_thread():
    record = guide_calls.measure_executor(values=1)
    cpus = getattr(os, "process_cpu_count", os.cpu_count)() or 1
    assert record["max_workers"] == min(32, cpus + 4)
    cases = record["cases"]
    assert cases["one-call"][0] >= SLEEP_US
    # Every call gets a thread at once: about one sleep (loaded machine: 1.9).
    assert cases["at-capacity"][0] < 1.9 * SLEEP_US
    # The last call starts when a first one ends: two sleeps at least.
    assert cases["one-over"][0] >= 2 * SLEEP_US


def run_suite(tmp_path, env):
    return quick_run(tmp_path, "guide-calls", env=env)


def test_a_quick_run_without_redis_records_the_other_backends_and_says_why(
    tmp_path,
):
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    data, stderr = run_suite(tmp_path, env)
    executor, cache = data["groups"]["guide-executor"], data["groups"]["guide-cache"]
    assert executor["suite"] == cache["suite"] == "guide-calls"
    assert set(executor["cases"]) == {"one-call", "at-capacity", "one-over"}
    assert executor["max_workers"] >= 5
    # One call over capacity waits a second round of sleeps: about 2x. A busy
    # machine slows the round at capacity too, so the bound leaves room (CI
    # measured 1.83 beside another test run); no queueing would give about 1.
    assert executor["cases"]["one-over"]["ratio"]["value"] >= 1.5
    assert set(cache["cases"]) == {
        f"{backend}-{call}"
        for backend in ("locmem", "db", "file")
        for call in ("get", "aget")
    }
    for name, case in cache["cases"].items():
        hops = 1 if name.endswith("-aget") else 0
        assert all(run["hops"]["sync_to_async"] == hops for run in case["runs"])
        assert all(run["hops"]["thread_sensitive"] == hops for run in case["runs"])
        assert case["stats"]["n"] == 4  # 2 processes x 2 values
    assert cache["skipped"] == [{"what": "Redis cases", "why": "REDIS_URL is not set"}]
    assert "skipped Redis" in stderr
    recorded = {
        f"{group}/{case}"
        for group in ("guide-executor", "guide-cache")
        for case in data["groups"][group]["cases"]
    }
    assert recorded <= guide_calls.KNOWN_CASES


@pytest.mark.needs_service("redis")
def test_with_redis_the_native_client_makes_no_hop(tmp_path):
    data, _ = run_suite(tmp_path, dict(os.environ))
    cases = data["groups"]["guide-cache"]["cases"]
    assert set(cases) == {name for name in guide_calls.cache_cases()}
    assert [run["hops"]["sync_to_async"] for run in cases["redis-aget"]["runs"]] == [
        1,
        1,
    ]
    native = cases["redis-asyncio-get"]
    assert [run["hops"]["sync_to_async"] for run in native["runs"]] == [0, 0]
    assert native["baseline"] == "redis-aget"
    assert data["groups"]["guide-cache"]["skipped"] == []
