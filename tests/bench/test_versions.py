"""The versions and asgiref suites: discovery, options, skips, threads, JSON."""

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from bench import cases, cli, portable, versions

ROOT = Path(__file__).resolve().parents[2]


def bench(*args, env=None, timeout=60):
    return subprocess.run(
        [sys.executable, "-m", "bench", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=timeout,
        env=env,
    )


def fake_python(path: Path, body: str) -> str:
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return str(path)


# Finding Pythons: every candidate is run, and only one that works counts.


def test_probe_reports_the_version_of_a_working_python():
    expected = f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert versions.probe(sys.executable) == expected


def test_probe_refuses_a_shim_that_fails_and_a_missing_file(tmp_path):
    shim = fake_python(
        tmp_path / "python3.9", "echo 'pyenv: python3.9: not installed' >&2; exit 127"
    )
    assert versions.probe(shim) is None
    assert versions.probe(str(tmp_path / "nothing")) is None
    chatty = fake_python(tmp_path / "python3.8", "echo 'Python 3.8.18'")
    assert versions.probe(chatty) is None  # not X.Y: not what we asked it to print


def test_discovery_looks_in_pyenv_root_then_on_path(tmp_path, monkeypatch):
    root = tmp_path / "pyenv"
    for patch in ("3.9.1", "3.9.18"):
        bin_dir = root / "versions" / patch / "bin"
        bin_dir.mkdir(parents=True)
        fake_python(bin_dir / "python3", "echo 3.9")
    tools = tmp_path / "bin"
    tools.mkdir()
    fake_python(tools / "pyenv", f"echo {root}")
    fake_python(tools / "python3.9", "exit 1")  # a broken shim, last resort
    monkeypatch.setenv("PATH", str(tools))
    found = versions.candidates("3.9")
    assert found == [
        str(root / "versions" / "3.9.18" / "bin" / "python3"),  # newest patch first
        str(root / "versions" / "3.9.1" / "bin" / "python3"),
        str(tools / "python3.9"),
    ]
    assert versions.find_pythons(["3.9", "3.8"], []) == {"3.9": found[0]}


def test_a_given_python_must_run_and_be_the_version_it_claims(tmp_path):
    broken = fake_python(tmp_path / "broken", "exit 3")
    with pytest.raises(cli.BenchError, match=r"--python 3.9=.*broken: it does not run"):
        versions.find_pythons(["3.9"], [("3.9", broken)])
    with pytest.raises(cli.BenchError, match=r"it is Python \d+\.\d+"):
        versions.find_pythons(["3.9"], [("3.9", sys.executable)])


# Planning: unknown versions are errors, missing Pythons skip a series.


def test_an_unknown_django_version_is_refused():
    with pytest.raises(cli.BenchError, match=r"unknown Django version '1\.11'"):
        versions.plan_versions(["6.1", "1.11"], "full", {"3.12": "/x"})


def test_a_missing_python_skips_its_series_and_says_how_to_fix_it():
    runs, skipped = versions.plan_versions(None, "full", {"3.12": "/py312"})
    assert {run["release"] for run in runs} == {
        "4.2",
        "5.0",
        "5.1",
        "5.2",
        "6.0",
        "6.1",
    }
    assert {run["python"] for run in runs} == {"3.12"}
    [item] = skipped
    assert item["what"] == "series A (Django 2.2 to 4.2)"
    assert "no working Python 3.9 or 3.8 found" in item["why"]
    assert "--python X.Y=PATH" in item["why"]


def test_both_series_join_on_4_2_and_quick_takes_the_oldest_and_newest():
    pythons = {"3.8": "/py38", "3.12": "/py312"}
    runs, skipped = versions.plan_versions(None, "full", pythons)
    assert skipped == []
    assert [r["python"] for r in runs if r["release"] == "4.2"] == ["3.8", "3.12"]
    assert len(runs) == 13  # 7 + 6: every feature release, 4.2 twice
    quick, _ = versions.plan_versions(None, "quick", pythons)
    assert [(r["release"], r["python"]) for r in quick] == [
        ("2.2", "3.8"),
        ("6.1", "3.12"),
    ]
    chosen, _ = versions.plan_versions(["3.1"], "quick", pythons)
    assert [(r["release"], r["python"]) for r in chosen] == [("3.1", "3.8")]


def test_which_paths_each_release_has():
    assert versions.paths_of("2.2") == ["wsgi-sync"]
    assert versions.paths_of("3.0") == ["wsgi-sync", "asgi-sync"]
    assert sorted(versions.paths_of("3.1")) == sorted(versions.PATH_LABELS)


@pytest.mark.parametrize(
    ("requires", "bound"),
    [
        ("['asgiref>=3.9.1', 'sqlparse>=0.5.0']", "3.9.1"),
        ("['asgiref (>=3.2.10,~=3.2)', 'pytz']", "3.2.10"),
    ],
)
def test_the_oldest_asgiref_comes_from_djangos_requirement(requires, bound):
    assert versions.parse_bound(requires) == bound


def test_no_asgiref_requirement_is_an_error_not_a_guess():
    with pytest.raises(cli.BenchError, match="no asgiref lower bound"):
        versions.parse_bound("['sqlparse>=0.3.1', 'pytz']")


# The command line.


@pytest.mark.parametrize(
    ("args", "message", "code"),
    [
        (["--django-versions", "9.9"], "unknown Django version '9.9'", 1),
        (["--python", "3.9"], "expected X.Y=PATH, got '3.9'", 2),
        (["--python", "3.9=/nonexistent/python"], "it does not run", 1),
    ],
)
def test_bad_suite_options_give_one_line(args, message, code):
    result = bench("run", "--only", "versions", *args, "--output", os.devnull)
    assert result.returncode == code, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert message in result.stderr


def test_suites_are_registered_and_selected_by_only():
    assert {"versions", "asgiref"} <= set(cases.SUITES)
    selected, suites = cases.select_all(["bridges", "asgiref"])
    assert {case.group for case in selected} == {"bridges"}
    assert [suite.name for suite in suites] == ["asgiref"]
    everything, all_suites = cases.select_all(None)
    assert len(everything) == len(cases.CASES)
    assert all_suites == list(cases.SUITES.values())
    assert callable(cases.SUITES["versions"].load())


def test_a_run_without_any_python_records_the_skips(tmp_path, monkeypatch, capfd):
    monkeypatch.setattr(versions, "candidates", lambda version: [])
    output = tmp_path / "out.json"
    code = cli.main(["run", "--only", "versions", "asgiref", "--output", str(output)])
    assert code == 0
    data = json.loads(output.read_text())
    skipped = data["groups"]["versions"]["skipped"]
    assert [item["what"] for item in skipped] == [
        "series A (Django 2.2 to 4.2)",
        "series B (Django 4.2 to 6.1)",
    ]
    assert data["groups"]["versions"]["cases"] == {}
    assert data["groups"]["asgiref"]["skipped"][0]["what"] == "asgiref releases"
    # The summary says it too (the progress lines say it on stderr as it happens).
    out, _ = capfd.readouterr()
    assert "skipped series A (Django 2.2 to 4.2): no working Python 3.9" in out
    assert "skipped series B (Django 4.2 to 6.1)" in out


# Counting threads.


def test_thread_counter_counts_each_thread_a_call_starts():
    def starts_two():
        for _ in range(2):
            thread = threading.Thread(target=lambda: None)
            thread.start()
            thread.join()

    record = portable.count_threads(lambda n: [starts_two() for _ in range(n)], 5)
    assert record["started"] == 10
    assert record["per_request"] == 2.0
    assert record["os_threads_before"] >= 1
    record = portable.count_threads(lambda n: None, 5)
    assert record["started"] == 0
    assert threading.Thread.start.__name__ == "start"  # restored


def test_the_portable_worker_counts_threads_per_path():
    command = [
        sys.executable,
        "-I",
        str(ROOT / "bench" / "portable.py"),
        "--paths",
        "wsgi-sync",
        "asgi-sync",
        "--bridges",
        "sync-to-async-insensitive",
        "--values",
        "2",
        "--value-seconds",
        "0.005",
        "--warmup-seconds",
        "0.005",
        "--count-threads",
        "20",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert set(record) >= {"django", "asgiref", "python", "paths", "bridges"}
    paths = record["paths"]
    assert len(paths["wsgi-sync"]["values_us"]) == 2
    # A sync view under WSGI starts no thread; under ASGI, each request's
    # ThreadSensitiveContext gets a thread of its own (Django 4.0 and later).
    assert paths["wsgi-sync"]["threads"]["per_request"] == 0
    assert paths["asgi-sync"]["threads"]["per_request"] >= 1
    bridge = record["bridges"]["sync-to-async-insensitive"]
    assert bridge["threads"]["per_request"] < 1  # the loop's pool is reused


def test_the_portable_worker_refuses_a_path_the_release_lacks(monkeypatch, capsys):
    monkeypatch.setattr(portable, "setup_minimal_django", lambda: (3, 0))
    assert portable.main(["--paths", "asgi-async"]) == 1
    assert "Django 3.0 has no asgi-async path" in capsys.readouterr().err


# The real thing: both suites in quick mode, in their own environments.


def test_quick_suites_write_every_figure_with_versions_and_threads(tmp_path):
    output = tmp_path / "quick.json"
    result = bench(
        "run", "--quick", "--only", "versions", "asgiref", "--output", str(output)
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(output.read_text())
    group = data["groups"]["versions"]
    assert group["suite"] == "versions"
    releases = {case["params"]["django"] for case in group["cases"].values()}
    assert len(releases) == 2
    assert "6.1" in releases
    for name, case in group["cases"].items():
        assert case["stats"]["n"] == 2
        assert case["ratio"]["of"].endswith("-wsgi-sync")
        assert name.startswith(f"django-{case['params']['django']}-py")
        assert "threads_per_request" in case
    environments = group["environments"]
    assert (
        environments[f"django-6.1-py{group['series'][1]['python']}"]["packages"][
            "django"
        ]
        == versions.DJANGO["6.1"]
    )
    asgiref = data["groups"]["asgiref"]
    oldest, newest = (
        asgiref["asgiref_bound"]["oldest"],
        asgiref["asgiref_bound"]["newest"],
    )
    assert oldest != newest
    assert asgiref["environments"][oldest]["packages"]["asgiref"] == oldest
    expected = {
        f"asgiref-{release}-{what}"
        for release in (oldest, newest)
        for what in (*versions.PATH_LABELS, *versions.BRIDGE_LABELS)
    }
    assert set(asgiref["cases"]) == expected
    assert asgiref["cases"][f"asgiref-{newest}-wsgi-sync"]["threads_per_request"] == 0
    assert asgiref["cases"][f"asgiref-{newest}-asgi-sync"]["threads_per_request"] >= 1


def test_environments_are_created_side_by_side_in_order(monkeypatch):
    running, most = [], []

    def fake(python, version, packages):
        running.append(packages["django"])
        most.append(len(running))
        time.sleep(0.05)
        running.remove(packages["django"])
        if packages["django"] == "bad":
            raise cli.BenchError("cannot create bad")
        return Path(packages["django"])

    monkeypatch.setattr(versions, "environment", fake)
    wanted = [("python", "3.13", {"django": str(n)}) for n in range(6)]
    assert versions.environments(wanted) == [Path(str(n)) for n in range(6)]
    assert max(most) == versions.ENVIRONMENTS_AT_ONCE
    with pytest.raises(cli.BenchError, match="cannot create bad"):
        versions.environments([*wanted, ("python", "3.13", {"django": "bad"})])
