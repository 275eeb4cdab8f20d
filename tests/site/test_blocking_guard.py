"""The blocking guard fails an async test that blocks its event loop.

tests/support/blocking.py runs every async test under blockbuster. Here a
throwaway test module runs in a pytest of its own with the guard, and only its
async tests that block the loop fail, each with the call and where it was made.
"""

import pytest

from tests.support.blocking import Detection, Guard
from tests.support.blocking_allowlist import Allowed
from tests.support.sphinx import ROOT

BLOCKING_TESTS = """
import asyncio
import time

import pytest


@pytest.mark.asyncio
async def test_sleeps_on_the_loop():
    time.sleep(0.01)


@pytest.fixture
def notes(tmp_path):
    # A sync fixture runs before the loop starts: not a detection.
    (tmp_path / "notes.txt").write_text("up")
    return tmp_path / "notes.txt"


@pytest.mark.asyncio
async def test_opens_a_file_on_the_loop(notes):
    with open(notes) as notes:
        assert notes.read() == "up"


@pytest.mark.asyncio
async def test_sleeps_in_a_thread():
    await asyncio.to_thread(time.sleep, 0.01)


@pytest.mark.asyncio
async def test_opens_a_file_in_a_thread(tmp_path):
    path = tmp_path / "notes.txt"
    await asyncio.to_thread(path.write_text, "up")
    assert await asyncio.to_thread(path.read_text) == "up"


def test_sync_code_may_block(tmp_path):
    time.sleep(0.01)
    (tmp_path / "notes.txt").write_text("up")
"""


@pytest.fixture
def guarded_run(pytester, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    pytester.makepyfile(test_guarded=BLOCKING_TESTS)
    return pytester.runpytest_subprocess(
        "-p", "tests.support.blocking", "-p", "no:django", "-p", "no:cacheprovider",
        "-p", "no:cov", "-o", "addopts=", "-o", "asyncio_mode=strict",
    )  # fmt: skip


def test_only_async_tests_that_block_the_loop_fail(guarded_run):
    guarded_run.assert_outcomes(passed=3, failed=2)
    failed = {
        line.split("::")[1].split(" ")[0]
        for line in guarded_run.stdout.lines
        if line.startswith("FAILED ")
    }
    assert failed == {"test_sleeps_on_the_loop", "test_opens_a_file_on_the_loop"}


def test_the_report_names_the_call_and_where_it_was_made(guarded_run):
    output = guarded_run.stdout.str()
    assert "BlockingCallsFound: 1 blocking call(s) on the event loop" in output
    assert "1 x time.sleep from " in output
    assert "test_guarded.py:test_sleeps_on_the_loop (line 9)" in output
    assert "x builtins.open from " in output
    assert "test_guarded.py:test_opens_a_file_on_the_loop (line 22)" in output
    assert "blocking guard: 4 detection(s) failed tests" in output


def test_an_allowlist_entry_matches_by_call_and_frame_only():
    entry = Allowed(("time.sleep",), "a demo", frame="demo.py:pause")
    stack = [("/x/demo.py", 3, "pause"), ("/x/test_demo.py", 9, "test_it")]
    assert entry.matches(Detection("time.sleep", stack))
    assert not entry.matches(Detection("builtins.open", stack))
    assert not entry.matches(Detection("time.sleep", stack[1:]))
    by_test = Allowed(("time.sleep",), "a demo", test="tests/a.py::test_it")
    assert by_test.matches(Detection("time.sleep", stack, "tests/a.py::test_it[1]"))
    assert not by_test.matches(Detection("time.sleep", stack, "tests/a.py::test_its"))


def test_the_allowlist_is_short_and_every_entry_says_why():
    entries = Guard().allowed
    assert len(entries) <= 12
    for entry in entries:
        assert len(entry.reason) > 20
        assert entry.frame or entry.test
        assert not entry.frame.startswith(("sampleproject/", "snippets/"))
