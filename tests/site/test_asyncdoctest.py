"""The top-level-await doctest extension, on its own (no Django)."""

import re

from tests.support.sphinx import sphinx_build, write_project

CONF = """
extensions = ["_ext.asyncdoctest"]
"""


def run_doctests(tmp_path, page: str):
    srcdir = write_project(tmp_path / "src", CONF, {"index.rst": page})
    return sphinx_build(srcdir, "doctest", strict=False)


def test_top_level_await_passes(tmp_path):
    result = run_doctests(
        tmp_path,
        """
        Title
        =====

        .. doctest::

           >>> import asyncio
           >>> await asyncio.sleep(0, result=42)
           42
        """,
    )
    assert result.returncode == 0, result.output
    assert "2 tests" in result.doctest_report
    assert "0 failures in tests" in result.doctest_report


def test_failing_await_is_a_doctest_failure_on_its_line(tmp_path):
    result = run_doctests(
        tmp_path,
        """
        Title
        =====

        .. doctest::

           >>> import asyncio
           >>> await asyncio.sleep(0, result=42)
           41
        """,
    )
    assert result.returncode == 1
    report = result.doctest_report
    assert re.search(r"1 failures? in tests", report)
    # The failure names the page and the line of the failing example.
    assert re.search(r'File ".*index\.rst", line 8', report), report
    assert "Expected:\n    41\nGot:\n    42" in report


def test_exception_from_async_code_matches_expected_traceback(tmp_path):
    result = run_doctests(
        tmp_path,
        """
        Title
        =====

        .. doctest::

           >>> async def fail():
           ...     raise LookupError("no such service")
           >>> await fail()
           Traceback (most recent call last):
             ...
           LookupError: no such service
        """,
    )
    assert result.returncode == 0, result.doctest_report
    assert "0 failures in tests" in result.doctest_report


def test_unexpected_exception_from_async_code_fails(tmp_path):
    result = run_doctests(
        tmp_path,
        """
        Title
        =====

        .. doctest::

           >>> async def fail():
           ...     raise LookupError("no such service")
           >>> await fail()
           'fine'
        """,
    )
    assert result.returncode == 1
    assert "LookupError: no such service" in result.doctest_report


def test_sync_code_after_async_code_runs_outside_the_loop(tmp_path):
    result = run_doctests(
        tmp_path,
        """
        Title
        =====

        .. doctest::

           >>> import asyncio
           >>> await asyncio.sleep(0)
           >>> asyncio.get_running_loop()
           Traceback (most recent call last):
             ...
           RuntimeError: no running event loop
           >>> async def inside():
           ...     return asyncio.get_running_loop() is not None
           >>> await inside()
           True
        """,
    )
    assert result.returncode == 0, result.doctest_report


def test_one_loop_per_page_across_examples_and_blocks(tmp_path):
    result = run_doctests(
        tmp_path,
        """
        Title
        =====

        .. doctest::

           >>> import asyncio
           >>> async def start():
           ...     return asyncio.create_task(asyncio.sleep(0, result="done"))
           >>> task = await start()

        .. doctest::

           >>> await task
           'done'

        .. testcode::

           loop = asyncio.get_running_loop()
           await asyncio.sleep(0)
           print(loop is task.get_loop())

        .. testoutput::

           True
        """,
    )
    assert result.returncode == 0, result.doctest_report
    assert "5 tests" in result.doctest_report


def test_a_page_left_running_tasks_does_not_leak_into_the_next(tmp_path):
    # The first page starts a task and never awaits it. Its loop closes with the
    # page (cancelling the task), and the next page starts on a fresh loop.
    first = """
        First
        =====

        .. doctest::

           >>> import asyncio, builtins
           >>> async def start():
           ...     return asyncio.create_task(asyncio.sleep(3600))
           >>> builtins.leftover = await start()
        """
    second = """
        Second
        ======

        .. doctest::

           >>> import asyncio, builtins
           >>> builtins.leftover.cancelled()
           True
           >>> async def other_tasks():
           ...     return asyncio.all_tasks() - {asyncio.current_task()}
           >>> await other_tasks()
           set()
        """
    index = """
        Index
        =====

        .. toctree::

           first
           second
        """
    srcdir = write_project(
        tmp_path / "src",
        CONF,
        {"index.rst": index, "first.rst": first, "second.rst": second},
    )
    result = sphinx_build(srcdir, "doctest", strict=False)
    assert result.returncode == 0, result.doctest_report
