"""Markers and hooks shared by the whole suite.

``needs_django(6, 0)`` skips a test on older Django. ``needs_service("postgres")``
and ``needs_service("redis")`` skip a test when ``DATABASE_URL`` or ``REDIS_URL``
is not set; tests that need wrk or Chromium call ``tests.support.tools.need``.
With ``CI`` set, or a service named in ``REQUIRE_SERVICES``, a missing tool fails
the test instead (see tests/support/tools.py), so CI cannot pass with those tests
silently skipped. The run ends with one line naming what was skipped and why;
with ``SKIPPED_FOR_TOOLS`` naming a file, each of those tests is added to it as
a line ``<tool> <test id>``, for CI to run them where the tools are.
"""

import contextlib
import os

import django
import pytest

from tests.support import tools

pytest_plugins = ["pytester", "tests.support.blocking"]


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """pytest-django's test database, minus the connections requests left open.

    Django's test clients disconnect ``close_old_connections`` from the request
    signals, so a connection opened in a request's sync_to_async thread outlives
    the request (a real server closes it at ``request_finished``). PostgreSQL
    will not drop a database that has sessions: end them before it is dropped.
    """
    yield
    from django.db import connection

    if connection.vendor == "sqlite":
        _sqlite_leftovers.append(connection.settings_dict["NAME"])
    with django_db_blocker.unblock():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )


_sqlite_leftovers: list[str] = []


def pytest_sessionfinish(session):
    # A connection still open in a finished request's thread keeps SQLite's
    # write-ahead log files after the test database itself is deleted.
    for name in _sqlite_leftovers:
        for suffix in ("-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.remove(f"{name}{suffix}")


def pytest_runtest_setup(item):
    for marker in item.iter_markers("needs_django"):
        wanted = tuple(marker.args)
        if django.VERSION[: len(wanted)] < wanted:
            version = ".".join(map(str, wanted))
            pytest.skip(f"needs Django {version}+, this is {django.get_version()}")
    for marker in item.iter_markers("needs_service"):
        (name,) = marker.args
        tools.need(name)


def pytest_unconfigure(config):
    # After pytest's own summary, so that it is the last line `make test` prints.
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        return
    skipped = [
        (report.nodeid, report.longrepr[2].removeprefix("Skipped: "))
        for report in reporter.stats.get("skipped", [])
        if isinstance(report.longrepr, tuple)
    ]
    line = tools.summary_line([reason for _, reason in skipped])
    if line:
        reporter.write_line(line, yellow=True, bold=True)
    # CI's run 2 reruns exactly these, with the tools: "<tool> <test id>" lines.
    if listing := os.environ.get("SKIPPED_FOR_TOOLS"):
        with open(listing, "a") as out:
            for nodeid, reason in skipped:
                if reason.startswith(tools.SKIP_PREFIX):
                    tool = reason.removeprefix(tools.SKIP_PREFIX).partition(":")[0]
                    out.write(f"{tool} {nodeid}\n")
