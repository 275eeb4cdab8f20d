"""A test that needs a missing tool skips on a reader's machine and fails in CI."""

import pytest

from tests.support import tools
from tests.support.sphinx import ROOT

NEEDS_EVERYTHING = """
import pytest
from tests.support import tools

def test_browser():
    tools.need("chromium")

def test_load():
    tools.need("wrk")

@pytest.mark.needs_service("postgres")
def test_database():
    pass

@pytest.mark.needs_service("redis")
def test_cache():
    pass

def test_plain():
    pass
"""


@pytest.fixture
def bare_machine(pytester, monkeypatch):
    """A run with no tool on PATH and no service configured."""
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    monkeypatch.setenv("PATH", str(pytester.path / "empty-bin"))
    for variable in ("CI", "CHROMIUM", "BENCH_WRK", "DATABASE_URL", "REDIS_URL"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.delenv("REQUIRE_SERVICES", raising=False)
    monkeypatch.delenv("SKIPPED_FOR_TOOLS", raising=False)
    monkeypatch.delenv("TOOLS_ELSEWHERE", raising=False)
    pytester.makeconftest((ROOT / "tests" / "conftest.py").read_text())
    pytester.makepyfile(NEEDS_EVERYTHING)
    return pytester


def run(pytester):
    return pytester.runpytest_subprocess(
        "-p", "no:django", "-p", "no:cacheprovider", "-p", "no:cov",
        "-o", "addopts=", "-o", "markers=needs_service",
    )  # fmt: skip


def test_missing_tools_skip_and_the_run_ends_with_how_to_enable_them(bare_machine):
    result = run(bare_machine)
    result.assert_outcomes(passed=1, skipped=4)
    last = result.stdout.lines[-1]
    assert last.startswith("Skipped for missing tools: chromium (1 tests; enable: ")
    for name in ("chromium", "wrk", "postgres", "redis"):
        assert f"{name} (1 tests; enable: {tools.TOOLS[name].enable})" in last


def test_the_skipped_tests_are_listed_for_a_run_that_has_the_tools(
    bare_machine, monkeypatch, tmp_path
):
    listing = tmp_path / "skipped.txt"
    monkeypatch.setenv("SKIPPED_FOR_TOOLS", str(listing))
    run(bare_machine).assert_outcomes(passed=1, skipped=4)
    lines = [line.split(" ", 1) for line in listing.read_text().splitlines()]
    listed = sorted((tool, nodeid.rpartition("::")[2]) for tool, nodeid in lines)
    assert listed == [
        ("chromium", "test_browser"),
        ("postgres", "test_database"),
        ("redis", "test_cache"),
        ("wrk", "test_load"),
    ]


def test_a_tool_another_ci_run_covers_is_skipped_even_in_ci(bare_machine, monkeypatch):
    monkeypatch.setenv("CI", "true")
    monkeypatch.setenv("TOOLS_ELSEWHERE", "chromium,wrk,postgres,redis")
    result = run(bare_machine)
    result.assert_outcomes(passed=1, skipped=4)
    # Not missing: nothing to enable here, and nothing listed for a rerun.
    assert "Skipped for missing tools" not in result.stdout.str()


@pytest.mark.parametrize("ci", ["true", "1"])
def test_in_ci_a_missing_tool_fails(bare_machine, monkeypatch, ci):
    monkeypatch.setenv("CI", ci)
    result = run(bare_machine)
    # The services fail in setup (their marker), so pytest counts them as errors.
    result.assert_outcomes(passed=1, failed=2, errors=2)
    result.stdout.fnmatch_lines(["*wrk is missing (not on PATH), and CI=true*"])
    assert "Skipped for missing tools" not in result.stdout.str()


def test_require_services_fails_only_for_the_services_it_names(
    bare_machine, monkeypatch
):
    monkeypatch.setenv("CI", "false")
    monkeypatch.setenv("REQUIRE_SERVICES", "redis")
    result = run(bare_machine)
    result.assert_outcomes(passed=1, skipped=3, errors=1)
    result.stdout.fnmatch_lines(["*redis is missing ($REDIS_URL is not set)*"])


def test_a_tool_on_path_or_named_by_its_variable_is_found(tmp_path, monkeypatch):
    wrk = tmp_path / "wrk"
    wrk.write_text("#!/bin/sh\n")
    wrk.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("BENCH_WRK", raising=False)
    assert tools.need("wrk") == str(wrk)
    monkeypatch.setenv("CHROMIUM", "/opt/chromium")
    assert tools.need("chromium") == "/opt/chromium"
    monkeypatch.setenv("DATABASE_URL", "postgres://db/x")
    assert tools.need("postgres") == "postgres://db/x"
