"""Markers shared by the whole suite.

``needs_django(6, 0)`` skips a test on older Django. ``needs_service("postgres")``
and ``needs_service("redis")`` skip a test when ``DATABASE_URL`` or ``REDIS_URL``
is not set, except when ``REQUIRE_SERVICES`` names the service (.ci/run sets
``REQUIRE_SERVICES=postgres,redis`` for its service runs): then a missing
service fails the test, so CI cannot pass with those tests silently skipped.
"""

import contextlib
import os

import django
import pytest

pytest_plugins = ["pytester"]

SERVICE_VARIABLES = {"postgres": "DATABASE_URL", "redis": "REDIS_URL"}


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
        variable = SERVICE_VARIABLES[name]
        if not os.environ.get(variable):
            reason = f"needs {name}: set {variable}"
            if name in os.environ.get("REQUIRE_SERVICES", "").split(","):
                pytest.fail(f"{reason} (REQUIRE_SERVICES says this run must have it)")
            pytest.skip(reason)
