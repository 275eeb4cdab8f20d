"""Tests of snippets/guides/testing.py, shown on docs/guides/testing.md.

The page's passing example tests are imported here, which makes pytest collect
and run them with their own markers. The failing ones run in an inner pytest
(pytester), as a reader would run them, and the tests check the error text the
reader sees; docs/guides/errors.md includes those texts from here.
"""

import asyncio

import pytest
from django.test import AsyncClient, Client

from snippets.guides import testing
from snippets.guides.testing import (  # collected and run here
    ServiceCountTests,
    board_url,
    test_ten_slow_checks_run_at_once,
    test_ten_summaries_at_once_on_a_real_server,
    test_the_count_includes_a_new_service,
    test_the_feed_cleans_up_when_the_client_leaves,
    test_the_feed_sends_events,
)
from tests.support.sphinx import ROOT

__all__ = [
    "ServiceCountTests",
    "board_url",
    "test_ten_slow_checks_run_at_once",
    "test_ten_summaries_at_once_on_a_real_server",
    "test_the_count_includes_a_new_service",
    "test_the_feed_cleans_up_when_the_client_leaves",
    "test_the_feed_sends_events",
]

# start-database-access-error
DATABASE_ACCESS = (
    "RuntimeError: Database access not allowed, use the "
    '"django_db" mark, or the "db" or "transactional_db" fixtures to enable it.'
)
# end-database-access-error
# start-table-locked-error
TABLE_LOCKED = (
    "django.db.utils.OperationalError: database table is locked: board_service"
)
# end-table-locked-error
# start-invisible-error
INVISIBLE = "AssertionError: assert {'services': 0} == {'services': 1}"
# end-invisible-error
# start-blocked-error
BLOCKED = "1 x time.sleep from snippets/guides/testing.py:test_the_sync_check_answers"
# end-blocked-error


def run_inner(
    pytester, monkeypatch, names, *options, settings="sampleproject.settings.test"
):
    """Run example tests of the snippet (and fixtures) in a pytest of their own."""
    monkeypatch.setenv("PYTHONPATH", f"{ROOT}:{pytester.path}")
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", settings)
    # Show the values in a failed assert, as in a reader's own test file.
    pytester.makeconftest('import pytest\npytest.register_assert_rewrite("snippets")')
    pytester.makepyfile(test_example=f"from snippets.guides.testing import {names}\n")
    return pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-p", "no:cov", "-o", "addopts=",
        "-o", "asyncio_mode=strict",
        "-o", "asyncio_default_fixture_loop_scope=function", *options, timeout=120,
    )  # fmt: skip


def test_an_async_test_without_the_mark_may_not_use_the_database(pytester, monkeypatch):
    result = run_inner(pytester, monkeypatch, "test_the_count_without_the_mark")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"E   *{DATABASE_ACCESS}"])


def test_a_sync_fixture_row_is_invisible_to_the_view(pytester, monkeypatch):
    result = run_inner(
        pytester, monkeypatch, "search_service, test_the_count_includes_the_fixture"
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"E   *{INVISIBLE}"])


def test_on_in_memory_sqlite_the_table_is_locked(pytester, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    # Django's default test database on SQLite: in memory, with a shared cache.
    pytester.makepyfile(
        in_memory="from sampleproject.settings.test import *\n"
        'DATABASES["default"]["TEST"] = {}\n'
    )
    result = run_inner(
        pytester,
        monkeypatch,
        "search_service, test_the_count_includes_the_fixture",
        settings="in_memory",
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"E   *{TABLE_LOCKED}"])


def test_a_stream_read_to_the_end_times_out_instead_of_hanging(pytester, monkeypatch):
    result = run_inner(pytester, monkeypatch, "test_the_feed_ends")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["E   *TimeoutError"])


def test_the_blocking_guard_fails_a_test_that_sleeps_on_the_loop(pytester, monkeypatch):
    result = run_inner(
        pytester,
        monkeypatch,
        "test_the_sync_check_answers",
        "-p",
        "tests.support.blocking",
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"*{BLOCKED}*"])


def test_the_same_test_passes_without_the_guard(pytester, monkeypatch):
    result = run_inner(pytester, monkeypatch, "test_the_sync_check_answers")
    result.assert_outcomes(passed=1)


@pytest.mark.asyncio
@pytest.mark.urls(testing.URLS)
async def test_a_sync_view_serves_one_request_at_a_time():
    # What the concurrency test tells apart: a sync view never overlaps.
    testing.in_flight.most = 0
    client = AsyncClient()
    await asyncio.gather(*(client.get("/slow-sync/") for _ in range(3)))
    assert testing.in_flight.most == 1


@pytest.mark.urls(testing.URLS)
def test_client_sends_the_async_view_a_wsgi_request():
    assert Client().get("/kind/").json() == {"request": "WSGIRequest"}


@pytest.mark.asyncio
@pytest.mark.urls(testing.URLS)
async def test_async_client_sends_it_an_asgi_request():
    assert (await AsyncClient().get("/kind/")).json() == {"request": "ASGIRequest"}
