"""The fanout suite (bench/fanout.py): the phases of one check-all."""

import json
import subprocess
import sys
from pathlib import Path

from bench import fanout
from bench.cases import SUITES

ROOT = Path(__file__).resolve().parents[2]


def test_the_suite_is_registered():
    assert SUITES["fanout"].load() is fanout.run


def test_a_full_run_takes_three_processes_unless_told_otherwise():
    full = {"processes": 5, "values": 5, "explicit": []}
    assert fanout.processes_for(full) == fanout.FULL_PROCESSES == 3
    assert fanout.processes_for({**full, "explicit": ["processes"]}) == 5
    assert fanout.processes_for({**full, "processes": 2}) == 2
    assert fanout.processes_for({**full, "mode": "quick", "processes": 2}) == 1


def test_a_quick_run_times_every_phase(tmp_path):
    output = tmp_path / "out.json"
    command = ["run", "--quick", "--only", "fanout", "--output", str(output)]
    result = subprocess.run(
        [sys.executable, "-m", "bench", *command],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr
    group = json.loads(output.read_text())["groups"]["fanout"]
    assert group["suite"] == "fanout"
    assert (group["services"], group["delay_ms"]) == (50, 200)
    assert {f"fanout/{name}" for name in group["cases"]} == fanout.KNOWN_CASES
    floor = group["cases"]["raw-floor"]["stats"]["median"]
    # No client gets 50 answers that each take 200 ms in less than 200 ms.
    assert floor >= fanout.DELAY_SECONDS * 1e6
    assert group["cases"]["check-all"]["ratio"]["of"] == "raw-floor"
    assert group["cases"]["check-all-keepalive"]["ratio"]["of"] == "check-all"
    # One bulk insert and one query, whatever the number of outcomes.
    assert group["record_hops"]["sync_to_async"] == 2
    # Each short phase carries its hops per call, which a flagged figure's
    # reason reads; the fan-outs hop to no thread and carry none.
    hops = {name: case["params"].get("hops") for name, case in group["cases"].items()}
    assert hops["record"] == 2
    assert hops["fetch-services"] >= 1
    assert hops["broadcast"] >= 1
    assert hops["raw-floor"] is hops["check-all"] is None


def test_the_worker_refuses_a_bad_count():
    result = subprocess.run(
        [sys.executable, "-m", "bench.fanout", "--values", "0"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert result.returncode == 2
    assert "--values must be at least 1" in result.stderr
    assert "Traceback" not in result.stderr
