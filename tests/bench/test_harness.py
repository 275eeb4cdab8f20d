"""The benchmark harness: its command line, its results file, its workers."""

import json
import os
import signal
import statistics
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

from bench import cases, cli, environment, stats, worker
from bench.settings import middleware_from_env

ROOT = Path(__file__).resolve().parents[2]
TINY = ["--values", "2", "--value-seconds", "0.005", "--warmup-seconds", "0.005"]


def bench(*args, **kwargs):
    return subprocess.run(
        [sys.executable, "-m", "bench", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        **kwargs,
    )


# The command line refuses bad options with one line, never a traceback.


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "--only", "nope"], "unknown group or case 'nope'"),
        (["run", "--processes", "0"], "must be at least 1, got 0"),
        (["run", "--values", "many"], "not a whole number: 'many'"),
        (["run", "--value-seconds", "-1"], "must be above 0 and at most 60"),
        (["run", "--warmup-seconds", "soon"], "not a number: 'soon'"),
        (["run", "--frobnicate"], "unrecognized arguments: --frobnicate"),
        ([], "the following arguments are required"),
    ],
)
def test_bad_options_give_one_line_and_exit_2_or_1(args, message):
    result = bench(*args)
    assert result.returncode in (1, 2)
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    assert message in result.stderr
    assert result.stderr.startswith("python -m bench: error: ")


def test_unknown_group_exits_1_before_any_worker_starts():
    result = bench("run", "--only", "bridges", "everything")
    assert result.returncode == 1
    assert "unknown group or case 'everything'" in result.stderr
    assert "bridges, middleware" not in result.stderr  # groups in their order
    assert "request-paths, middleware, bridges" in result.stderr


@pytest.mark.parametrize("where", ["missing-dir/out.json", "."])
def test_unwritable_output_fails_before_running(tmp_path, where):
    started = time.monotonic()
    result = bench("run", "--output", str(tmp_path / where))
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"python -m bench: error: cannot write {tmp_path}")
    assert "Traceback" not in result.stderr
    assert time.monotonic() - started < 10


def test_a_failing_worker_is_one_line_error():
    workers = cli.Workers(dict(os.environ, PYTHONPATH=str(ROOT)))
    with pytest.raises(cli.BenchError, match=r"^no-such: worker failed: .*invalid"):
        workers.run(["no-such-case"], "no-such")
    assert workers.current is None


# A tiny run writes the documented JSON.


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    output = tmp_path_factory.mktemp("bench") / "tiny.json"
    only = [
        "request-paths/wsgi-sync-trivial",
        "request-paths/asgi-async-orm",
        "middleware/sync-1",
        "middleware/async-1",
        "bridges/async-to-sync",
    ]
    args = ["run", "--only", *only, "--processes", "2", *TINY, "--output", output]
    result = bench(*map(str, args))
    assert result.returncode == 0, result.stderr
    return result, json.loads(output.read_text())


def test_tiny_run_json_has_environment_and_every_value(tiny_run):
    _, data = tiny_run
    assert data["schema_version"] == cli.SCHEMA_VERSION
    assert datetime.fromisoformat(data["date"].replace("Z", "+00:00")).tzinfo
    assert data["mode"] == "full"
    assert data["command"][:4] == ["python", "-m", "bench", "run"]
    assert "--output" in data["command"]
    machine = data["machine"]
    assert machine["cpu_model"]
    assert machine["cpu_count"] >= 1
    assert machine["memory_bytes"] > 0
    assert machine["kernel"].startswith("Linux")
    software = data["software"]
    assert software["python"] == ".".join(map(str, sys.version_info[:3]))
    import asgiref
    import django

    assert software["django"] == django.__version__
    assert software["asgiref"] == asgiref.__version__
    assert data["settings"]["processes"] == 2
    assert data["settings"]["cv_threshold"] == stats.CV_THRESHOLD
    assert set(data["groups"]) == {"request-paths", "middleware", "bridges"}
    for group in data["groups"].values():
        for case in group["cases"].values():
            assert [run["process"] for run in case["runs"]] == [0, 1]
            for run in case["runs"]:
                assert len(run["values_us"]) == 2
                assert all(value > 0 for value in run["values_us"])
                assert run["loops"] >= 1
            assert case["stats"]["n"] == 4
            assert case["unstable"] == (case["stats"]["cv"] > stats.CV_THRESHOLD)
    # Each part's own time, so a full run's time can be reported part by part.
    assert set(data["suite_seconds"]) == {"cases"}
    assert 0 < data["suite_seconds"]["cases"] <= data["duration_seconds"]
    assert data["unstable_count"] == sum(
        case["unstable"]
        for group in data["groups"].values()
        for case in group["cases"].values()
    )


def test_tiny_run_ratios_and_differences(tiny_run):
    _, data = tiny_run
    paths = data["groups"]["request-paths"]["cases"]
    assert paths["wsgi-sync-trivial"]["ratio"]["value"] == 1.0
    # Its baseline (wsgi-sync-orm) was not run: no ratio rather than a wrong one.
    assert "ratio" not in paths["asgi-async-orm"]
    middleware = data["groups"]["middleware"]["cases"]
    extra = middleware["sync-1"]["extra_us"]
    assert extra["of"] == "async-1"
    expected = middleware["sync-1"]["stats"]["mean"]
    expected -= middleware["async-1"]["stats"]["mean"]
    assert extra["value"] == pytest.approx(expected)


def test_tiny_run_reports_progress_and_summary(tiny_run):
    result, _ = tiny_run
    assert "[ 11/11]" in result.stderr
    assert "bridges/async-to-sync (process 2/2)" in result.stderr
    assert "Traceback" not in result.stderr
    assert "wrote " in result.stdout
    assert "async-to-sync" in result.stdout


# Workers never outlive the harness.


def children(pid):
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()]


@pytest.fixture
def long_run(tmp_path, tmp_path_factory):
    """A harness that would run for 30 s, and its worker; killed after the test."""
    # Results go elsewhere than the repository, should the run ever finish.
    output = tmp_path_factory.mktemp("results") / "out.json"
    process, child = start_long_run(tmp_path, output)
    yield process, child
    if process.poll() is None:
        process.kill()
        process.wait()


def start_long_run(tmp_path, output):
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "bench", "run", "--only", "bridges/async-to-sync"),
            *("--processes", "1", "--values", "1", "--warmup-seconds", "30"),
            *("--output", str(output)),
        ],
        cwd=ROOT,
        # A killed harness cannot remove its temporary directory: keep it here.
        env=dict(os.environ, TMPDIR=str(tmp_path)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        kids = children(process.pid)
        if kids:
            return process, kids[0]
        time.sleep(0.05)
    process.kill()
    pytest.fail("no worker started")


def gone(pid, within=10.0):
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0]
        except FileNotFoundError:
            return True
        if state == "Z":  # dead, waiting for its parent to reap it
            return True
        time.sleep(0.05)
    return False


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
def test_ctrl_c_stops_the_worker_and_writes_nothing(tmp_path, long_run):
    process, child = long_run
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130
    assert err.strip().splitlines()[-1] == (
        "python -m bench: interrupted; no results written"
    )
    assert "Traceback" not in err
    assert gone(child)
    assert list(tmp_path.iterdir()) == []  # its temporary directory is removed


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
def test_the_worker_dies_with_a_killed_harness(long_run):
    process, child = long_run
    process.kill()
    process.communicate(timeout=60)
    assert gone(child)


# The pieces, in process.


def test_select_by_group_and_by_case():
    assert [case.group for case in cases.select(["bridges"])] == ["bridges"] * 4
    both = cases.select(["bridges/async-to-sync", "middleware/none"])
    assert [case.key for case in both] == ["middleware/none", "bridges/async-to-sync"]
    assert len(cases.select(None)) == len(cases.CASES) == 21
    with pytest.raises(KeyError):
        cases.select(["request-paths/nope"])


def test_case_paths_and_parameters():
    case = cases.CASES["request-paths/asgi-sync-orm"]
    assert case.path == "/services/sync/"
    assert case.needs_db
    assert case.params() == {
        "handler": "asgi",
        "view": "sync",
        "workload": "orm",
        "middleware_count": 0,
    }
    assert cases.baseline(case) == "wsgi-sync-orm"
    assert cases.counterpart(cases.CASES["middleware/sync-5"]) == "async-5"
    assert cases.counterpart(cases.CASES["middleware/async-5"]) is None
    assert cases.baseline(cases.CASES["bridges/async-to-sync"]) is None


def test_summarize():
    summary = stats.summarize([10.0, 12.0, 14.0])
    assert summary["mean"] == 12.0
    assert summary["median"] == 12.0
    assert summary["stdev"] == 2.0
    assert summary["cv"] == pytest.approx(2 / 12)
    assert (summary["min"], summary["max"], summary["n"]) == (10.0, 14.0, 3)
    assert stats.summarize([5.0])["stdev"] == 0.0
    with pytest.raises(ValueError, match="no values"):
        stats.summarize([])


def test_derived_figures_are_flagged_when_an_input_is():
    def case(*values):
        return {"runs": [{"values_us": list(values)}]}

    groups = {
        "request-paths": {
            "cases": {
                "wsgi-sync-trivial": case(10.0, 10.1),
                "asgi-sync-trivial": case(20.0, 30.0),
            }
        }
    }
    assert stats.add_summaries(groups) == 1
    flagged = groups["request-paths"]["cases"]["asgi-sync-trivial"]
    assert flagged["unstable"]
    assert flagged["ratio"]["unstable"]
    assert flagged["ratio"]["value"] == pytest.approx(25.0 / 10.05)
    assert not groups["request-paths"]["cases"]["wsgi-sync-trivial"]["unstable"]


def test_environment_parsing():
    cpuinfo = "processor\t: 0\nmodel name\t: Example CPU @ 3.00GHz\n"
    assert environment.cpu_model(cpuinfo) == "Example CPU @ 3.00GHz"
    assert environment.memory_bytes("MemTotal:       1024 kB\n") == 1024 * 1024
    assert environment.memory_bytes("") is None


def test_calibrate_and_response_check():
    assert worker.calibrate(elapsed_ns=1_000_000, requests=100, value_seconds=0.1) == (
        10_000
    )
    assert worker.calibrate(elapsed_ns=10**9, requests=1, value_seconds=0.001) == 1
    case = cases.CASES["request-paths/wsgi-sync-trivial"]
    worker.check_response(case, ["200", b"ok"])
    with pytest.raises(RuntimeError, match="answered 500, not 200"):
        worker.check_response(case, ["500"])


def test_settings_middleware_lists():
    assert middleware_from_env("") == []
    assert middleware_from_env("sync:2") == ["bench.middleware.SyncOnlyMiddleware"] * 2
    assert middleware_from_env("async:1") == ["bench.middleware.AsyncCapableMiddleware"]
    from snippets.internals.async_middleware import (
        ASYNC_NATIVE_MIDDLEWARE,
        STARTPROJECT_MIDDLEWARE,
    )

    # Read from the installed Django's project template; the snippet's copy
    # must not drift from it.
    assert middleware_from_env("startproject:7") == STARTPROJECT_MIDDLEWARE
    assert middleware_from_env("async-native:7") == ASYNC_NATIVE_MIDDLEWARE


def worker_record(case: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    result = subprocess.run(
        [sys.executable, "-m", "bench.worker", case, *TINY],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize(
    ("case", "hops"),
    [("middleware/startproject", 15), ("middleware/async-native", 2)],
)
def test_middleware_cases_record_hops_per_request(case, hops):
    # tests/internals/test_middleware_hops.py says where each one comes from.
    assert worker_record(case)["hops"]["sync_to_async"] == hops


# Where a figure's spread comes from, and why a flagged one is flagged.


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="Linux only")
def test_pinned_workers_run_on_one_core():
    cpu = cli.one_cpu()
    if cpu is None:
        pytest.skip("one core: nothing to pin")
    show = [sys.executable, "-c", "import os; print(sorted(os.sched_getaffinity(0)))"]
    pinned = cli.Workers(dict(os.environ), pin=True).run([], "pin", command=show)
    assert json.loads(pinned) == [cpu]
    free = cli.Workers(dict(os.environ)).run([], "free", command=show)
    assert len(json.loads(free)) > 1


def test_workers_are_pinned_unless_told_not_to(tiny_run):
    _, data = tiny_run
    assert data["settings"]["pin"] is True
    args = cli.build_parser().parse_args(["run", "--no-pin"])
    assert args.pin is False
    assert cli.build_parser().parse_args(["run"]).pin is None  # the profile's


def test_spread_separates_within_and_between_processes():
    steady_inside = [{"values_us": [10.0, 10.0]}, {"values_us": [20.0, 20.0]}]
    found = stats.spread(steady_inside)
    assert found["within_cv"] == 0.0
    assert found["process_cv"] == pytest.approx(stats.summarize([10, 20])["cv"])
    assert "process_cv" not in stats.spread([{"values_us": [1.0, 3.0]}])


@pytest.mark.parametrize(
    ("params", "why"),
    [
        ({"handler": "asgi", "view": "sync"}, stats.HAND_OFF),
        ({"handler": "wsgi", "view": "async"}, stats.HAND_OFF),
        ({"bridge": "async-to-sync"}, stats.HAND_OFF),
        ({"django": "4.2", "path": "asgi-async"}, stats.HAND_OFF),
        ({"database": "postgresql", "queries": "in-turn-10"}, stats.SERVICE),
        ({"database": "native", "queries": "gather-10"}, stats.SERVICE),
        ({"backend": "redis-asyncio"}, stats.SERVICE),
        ({"backend": "locmem"}, stats.UNEXPLAINED),
        ({"handler": "wsgi", "view": "sync"}, stats.UNEXPLAINED),
    ],
)
def test_a_flagged_figure_names_its_reason(params, why):
    groups = {
        "g": {"cases": {"c": {"params": params, "runs": [{"values_us": [1, 2]}]}}}
    }
    assert stats.add_summaries(groups) == 1
    assert groups["g"]["cases"]["c"]["unstable_reason"] == why


# One process: the event loop's thread kept on one core, asgiref's executor
# thread moved to the same core or to another, hops timed in turn.
HOP_ON_CORES = """
import asyncio, json, os, sys, time
from asgiref.sync import sync_to_async
here, there = sorted(os.sched_getaffinity(0))[:2]
os.sched_setaffinity(0, {here})  # this thread only, on Linux

def move(cpu):
    os.sched_setaffinity(0, {cpu})  # runs in the executor's thread

def nothing():
    return None

async def main():
    hop, costs = sync_to_async(nothing), {"same": [], "other": []}
    # Nine rounds, each core first in turn: a round's pair is timed back to
    # back, and a burst of load elsewhere spoils a few rounds, not the median.
    cores = [("same", here), ("other", there)]
    for index in range(9):
        for name, cpu in cores if index % 2 else cores[::-1]:
            await sync_to_async(move)(cpu)
            for _ in range(100):
                await hop()
            started = time.perf_counter()
            for _ in range(1000):
                await hop()
            costs[name].append((time.perf_counter() - started) * 1000)
    print(json.dumps(costs))

asyncio.run(main())
"""


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="Linux only")
def test_a_hop_costs_more_when_its_thread_wakes_on_another_core():
    # stats.HAND_OFF's reason: the same hop costs more when the executor's
    # thread sits on another core, so where the scheduler puts that thread,
    # and what the other core is doing, moves the figure. How much more
    # depends on the processor: the median of a run's nine rounds was 1.35x to
    # 1.64x in six runs on the Intel Xeon of 2026-12-05 (0.97x to 1.01x with
    # both threads on one core), several times on the AMD EPYC before it.
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("one core: no other core to wake a thread on")
    result = subprocess.run(
        [sys.executable, "-c", HOP_ON_CORES],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    costs = json.loads(result.stdout)  # µs per hop
    # Each round times the two cores one after the other, so a round's ratio
    # is free of what the machine did between rounds.
    rounds = zip(costs["same"], costs["other"], strict=True)
    ratios = [other / same for same, other in rounds]
    assert statistics.median(ratios) > 1.2, costs


def pinned_shares(busy: bool) -> list[float]:
    """``core_share`` of a pinned worker's values, with a busy loop beside it."""
    cpu = cli.one_cpu()
    loop = "while True: pass" if busy else "import time; time.sleep(60)"
    other = subprocess.Popen(
        [sys.executable, "-c", f"import os; os.sched_setaffinity(0, {{{cpu}}})\n{loop}"]
    )
    try:
        time.sleep(0.2)
        worker = cli.Workers(
            {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"},
            pin=True,
        )
        args = ["request-paths/wsgi-sync-trivial", "--values", "3"]
        args += ["--value-seconds", "0.05", "--warmup-seconds", "0.02"]
        return json.loads(worker.run(args, "shares"))["core_share"]
    finally:
        other.kill()
        other.wait()


def test_a_value_records_what_another_process_took_from_its_core():
    # bench.portable.core_share: a busy loop on the worker's own core takes
    # about half of it from every value; with the loop asleep, nothing does.
    if cli.one_cpu() is None:
        pytest.skip("needs a core to pin to")
    busy, quiet = pinned_shares(busy=True), pinned_shares(busy=False)
    assert len(busy) == len(quiet) == 3
    # Relative, so that other load on that core (a busy CI machine) lowers
    # both alike and the loop's half still shows.
    assert max(busy) < 0.8 * statistics.median(quiet), (busy, quiet)


def test_a_value_that_lost_its_core_names_the_reason():
    def case(*shares):
        runs = [{"values_us": [1.0] * len(shares), "core_share": list(shares)}]
        return {"params": {"handler": "wsgi", "view": "sync"}, "runs": runs}

    dipped = case(0.99, 1.0, 0.9)
    assert stats.reason(dipped, pinned=True).startswith("another process took")
    assert stats.reason(dipped, pinned=False) == stats.UNEXPLAINED
    # A case that idles a little in every value (it starts threads) is not hit.
    assert stats.reason(case(0.93, 0.94, 0.93), pinned=True) == stats.UNEXPLAINED


def flagged_reason(*processes: list[float]) -> str:
    runs = [{"values_us": list(values)} for values in processes]
    groups = {"g": {"cases": {"c": {"params": {"view": "sync"}, "runs": runs}}}}
    assert stats.add_summaries(groups) == 1
    return groups["g"]["cases"]["c"]["unstable_reason"]


def test_a_process_that_stands_apart_is_named_with_its_offset():
    steady = [100.0, 101.0, 99.0, 100.0, 100.0]
    slow = [110.0, 111.0, 109.0, 110.0, 110.0]
    why = flagged_reason(steady, steady, slow, steady, steady)
    assert why.startswith("one process of 5 stands apart, its mean +10.0%"), why
    # Two slow processes are not one process apart.
    assert not flagged_reason(steady, slow, slow, steady).startswith("one process")


def test_a_case_whose_suite_counted_hops_names_the_hand_off():
    steady = [100.0, 101.0, 99.0, 100.0]
    spread = [90.0, 110.0, 95.0, 120.0]
    runs = [{"values_us": steady}, {"values_us": spread}, {"values_us": spread}]
    for hops, expected in ((3, stats.HAND_OFF), (0, stats.UNEXPLAINED)):
        case = {"params": {"hops": hops}, "runs": runs}
        groups = {"g": {"cases": {"c": case}}}
        assert stats.add_summaries(groups) == 1
        assert case["unstable_reason"] == expected, hops


def test_steady_processes_that_disagree_are_named_as_such():
    steady = [100.0, 101.0, 99.0, 100.0]
    slow = [110.0, 111.0, 109.0, 110.0]
    why = flagged_reason(steady, slow)
    assert why.startswith("the 2 processes disagree: each is steady on its own"), why
    assert why.endswith("their means are 10.0% apart"), why
    # A process that spreads on its own is not a steady one: no such reason.
    spread = [90.0, 110.0, 95.0, 120.0]
    assert not flagged_reason(steady, spread).startswith("the 2 processes")
    # Three steady processes that all sit apart: no one of them is the odd one.
    slower = [120.0, 121.0, 119.0, 120.0]
    why = flagged_reason(steady, slow, slower)
    assert why.startswith("the 3 processes disagree: each is steady"), why
    assert why.endswith("their means are 20.0% apart"), why


def test_values_that_stand_apart_are_named_when_the_rest_agree():
    # A burst in two values of two different processes, not a slow process.
    first = [100.0, 101.0, 99.0, 130.0, 100.0]
    second = [100.0, 99.0, 101.0, 100.0, 125.0]
    why = flagged_reason(first, second, [100.0, 100.5, 99.5, 100.0, 101.0])
    assert why.startswith("2 of 15 values stand apart, up to +30%"), why
    # Values spread evenly have no outliers: the case's own reason stands.
    even = [80.0, 90.0, 100.0, 110.0, 120.0]
    assert flagged_reason(even, even, even) == stats.UNEXPLAINED


def test_a_process_that_moves_while_the_others_are_steady_is_named():
    # The shapes of the committed run's three figures that had no reason: a
    # process that drifts across its values, and one whose first value jumps,
    # each also sitting apart from a steady process.
    steady = [44.0, 44.0, 43.8, 43.5]
    drifting = [47.4, 47.1, 49.3, 52.8]
    why = flagged_reason(drifting, steady)
    assert why.startswith("one process of 2 moves on its own (CV 5.3%)"), why
    assert why.endswith("others are steady (CV 0.5% at most)"), why
    jumped = [2508.7, 2041.2, 1951.7, 1999.1]
    calm = [1846.0, 1914.2, 1873.3, 1870.9]
    why = flagged_reason(calm, jumped)
    assert why.startswith("one process of 2 moves on its own (CV 12.2%)"), why
    # Every process spreading is the case's own doing: no process is named.
    assert flagged_reason(drifting, drifting) == stats.UNEXPLAINED


SETTLE = """
import gc, json, time
from bench.portable import measure_sync
held = [[i] for i in range(300_000)]  # what a set-up process holds

def full_collection_ms():
    started = time.perf_counter()
    gc.collect()
    return (time.perf_counter() - started) * 1000

before = min(full_collection_ms() for _ in range(3))
measure_sync(lambda n: sum(range(n * 100)), 1, 0.001, 0.001)  # settles first
after = min(full_collection_ms() for _ in range(3))
print(json.dumps({"before": before, "after": after, "frozen": gc.get_freeze_count()}))
"""


def test_a_worker_freezes_what_it_holds_before_timing_so_full_collections_are_cheap():
    # bench.portable.settle: a full collection in a worker that holds many
    # objects takes milliseconds, and lands in whichever value it falls in.
    result = subprocess.run(
        [sys.executable, "-c", SETTLE],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert found["frozen"] >= 300_000, found
    assert found["after"] < found["before"] / 5, found


def test_restat_recomputes_reasons_from_the_values_and_keeps_them(tmp_path, capsys):
    # A run recorded before the rule that names a moving process existed.
    runs = [{"values_us": [47.4, 47.1, 49.3, 52.8]}, {"values_us": [44.0, 44.0, 43.8]}]
    case = {"params": {"view": "sync"}, "runs": runs, "unstable": True}
    case["unstable_reason"] = stats.UNEXPLAINED
    results = {"settings": {"pin": True}, "groups": {"g": {"cases": {"c": case}}}}
    path = tmp_path / "full.json"
    path.write_text(json.dumps(results))
    assert cli.main(["restat", str(path)]) == 0
    assert "restated" in capsys.readouterr().out
    restated = json.loads(path.read_text())
    after = restated["groups"]["g"]["cases"]["c"]
    assert after["unstable_reason"].startswith("one process of 2 moves"), after
    assert after["runs"] == runs
    assert restated["unstable_count"] == 1
    assert restated["restated"][0]["unstable_count_before"] is None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read"),
        ("{", "is not JSON"),
        ("[1]", "is not a results file"),
        ('{"groups": {}}', "is not a results file"),
    ],
)
def test_restat_refuses_what_is_not_a_results_file(tmp_path, capsys, content, message):
    path = tmp_path / "full.json"
    if content is not None:
        path.write_text(content)
    assert cli.main(["restat", str(path)]) == 1
    assert message in capsys.readouterr().err
    assert content is None or path.read_text() == content
