"""Tests of snippets/guides/database_connections.py.

Shown on docs/guides/database-connections.md. The pool tests need PostgreSQL
(``DATABASE_URL``); each makes a small pool of its own, so that it can run out.
"""

import asyncio
import threading
import time
from unittest import mock

import pytest
from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIHandler
from django.db import DatabaseError, OperationalError, connection, connections
from django.urls import path
from psycopg_pool import PoolTimeout

from sampleproject.board.demo import seed
from sampleproject.board.models import Check, Service
from snippets.guides.database_connections import (
    close_connection,
    failed_checks,
    open_incidents_stream,
    open_incidents_stream_holding,
    pool_max_size,
    pooled,
    server_limits,
)
from snippets.internals.db_connections import service_count
from tests.internals.test_db_connections import a_pool_of_its_own, new_connections_get
from tests.support.asgi import StreamingGet

URLS = "tests.snippets.guides.test_database_connections"

urlpatterns = [
    path("incidents/open/", open_incidents_stream),
    path("incidents/open/holding/", open_incidents_stream_holding),
    path("services/count/", service_count),
]


def test_pool_max_size_shares_what_the_server_allows():
    # 100 slots, 3 for superusers, 7 for migrations, cron and psql; 2 machines
    # with 4 workers each: 90 // 8.
    assert pool_max_size(100, 3, 7, processes=8) == 11
    assert pool_max_size(100, 3, 7, processes=8) * 8 + 3 + 7 <= 100
    with pytest.raises(ValueError, match="cannot give 100 processes one each"):
        pool_max_size(100, 3, 7, processes=100)


def test_pooled_turns_persistent_connections_off():
    database = {"ENGINE": "django.db.backends.postgresql", "CONN_MAX_AGE": 60}
    entry = pooled(database, max_size=11, timeout=5)
    assert entry["CONN_MAX_AGE"] == 0
    assert entry["OPTIONS"]["pool"] == {"min_size": 1, "max_size": 11, "timeout": 5}


@pytest.mark.needs_service("postgres")
@pytest.mark.django_db
def test_server_limits_reads_the_servers_settings():
    max_connections, reserved = server_limits()
    with connection.cursor() as cursor:
        cursor.execute("SHOW max_connections")
        assert max_connections == int(cursor.fetchone()[0])
        cursor.execute("SHOW superuser_reserved_connections")
        assert reserved >= int(cursor.fetchone()[0])


def small_pool_wrappers(timeout: float):
    """Two DatabaseWrappers sharing one pool of one connection."""
    from django.db.backends.postgresql.base import DatabaseWrapper

    settings = pooled(connection.settings_dict, max_size=1, timeout=timeout)
    return (
        DatabaseWrapper(settings, alias="small_pool"),
        DatabaseWrapper(settings, alias="small_pool"),
    )


@pytest.mark.needs_service("postgres")
@pytest.mark.django_db
def test_an_exhausted_pool_waits_then_raises():
    first, second = small_pool_wrappers(timeout=0.5)
    try:
        first.ensure_connection()
        started = time.monotonic()
        with pytest.raises(OperationalError) as raised:
            second.ensure_connection()
        waited = time.monotonic() - started
    finally:
        first.close()
        first.close_pool()
    assert str(raised.value) == "couldn't get a connection after 0.50 sec"
    assert isinstance(raised.value.__cause__, PoolTimeout)
    # It waited the whole timeout for a connection to come back, then gave up.
    assert 0.45 <= waited < 5


@pytest.mark.needs_service("postgres")
@pytest.mark.django_db
def test_a_connection_given_back_in_time_ends_the_wait():
    first, second = small_pool_wrappers(timeout=5)
    try:
        first.ensure_connection()
        first.inc_thread_sharing()  # so that another thread may close it
        loop_started = time.monotonic()

        def give_back_later():
            time.sleep(0.3)
            first.close()

        thread = threading.Thread(target=give_back_later)
        thread.start()
        second.ensure_connection()
        waited = time.monotonic() - loop_started
        thread.join()
        second.close()
    finally:
        first.close_pool()
    assert 0.25 <= waited < 4


def checked_out() -> int:
    from django.db.backends.postgresql.base import DatabaseWrapper

    stats = DatabaseWrapper._connection_pools["default"].get_stats()
    return stats["pool_size"] - stats["pool_available"]


async def second_request_while_streaming(stream_path: str) -> tuple[int, int, str]:
    """Open a stream, then ask for a page: the pool has one connection."""
    app = ASGIHandler()
    async with StreamingGet(app, stream_path) as stream:
        await stream.read_until("data:")
        held = await sync_to_async(checked_out)()
        async with StreamingGet(app, "/services/count/") as other:
            body = await other.read_to_end(limit=10)
            status = other.status
    return held, status, body


def pool_of_one():
    return a_pool_of_its_own(), new_connections_get(
        0, {"pool": {"min_size": 1, "max_size": 1, "timeout": 0.5}}
    )


@pytest.mark.needs_service("postgres")
@pytest.mark.urls(URLS)
@pytest.mark.django_db(transaction=True)
def test_a_stream_that_closes_its_connection_leaves_the_pool_free():
    seed()
    own, settings = pool_of_one()
    with own, settings:
        held, status, body = asyncio.run(
            second_request_while_streaming("/incidents/open/")
        )
    assert held == 0
    assert status == 200
    assert '"services"' in body


@pytest.mark.needs_service("postgres")
@pytest.mark.urls(URLS)
@pytest.mark.django_db(transaction=True)
def test_a_stream_that_keeps_its_connection_starves_other_requests(caplog):
    seed()
    own, settings = pool_of_one()
    with own, settings:
        held, status, _ = asyncio.run(
            second_request_while_streaming("/incidents/open/holding/")
        )
    assert held == 1
    assert status == 500
    assert any(
        "couldn't get a connection after 0.50 sec" in str(record.exc_info[1])
        for record in caplog.records
        if record.exc_info
    )


@pytest.mark.needs_service("postgres")
@pytest.mark.django_db(transaction=True)
def test_a_thread_insensitive_call_gives_its_connection_back():
    seed()
    Check.objects.all().delete()
    own, settings = pool_of_one()
    with own, settings:

        async def main():
            count = await failed_checks()
            return count, await sync_to_async(checked_out)()

        count, held = asyncio.run(main())
    assert count == 0
    assert held == 0


@pytest.mark.needs_service("postgres")
@pytest.mark.django_db(transaction=True)
def test_without_the_close_the_thread_keeps_its_connection():
    seed()
    own, settings = pool_of_one()

    def count_only():
        return Check.objects.filter(ok=False).count()

    with own, settings:

        async def main():
            await sync_to_async(count_only, thread_sensitive=False)()
            return await sync_to_async(checked_out)()

        try:
            held = asyncio.run(main())
        finally:
            # Let the executor thread's connection go, so the pool can close.
            connections.close_all()
    assert held == 1


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_sync_to_async_of_connection_close_binds_the_loop_threads_wrapper():
    # connection.close is looked up here, on the event loop's thread; the call
    # then runs in another thread, and Django refuses the foreign wrapper.
    with pytest.raises(DatabaseError, match="can only be used in that same thread"):
        await sync_to_async(connection.close)()
    # The snippet's helper looks the connection up in the thread that closes it.
    await sync_to_async(close_connection)()


def server_side_cursor_used() -> bool:
    """Whether iterating a queryset declares a server-side (named) cursor."""
    import psycopg

    used = []

    def spy(execute, sql, params, many, context):
        used.append(isinstance(context["cursor"].cursor, psycopg.ServerCursor))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(spy):
        list(Service.objects.iterator())
    return used == [True]


@pytest.mark.needs_service("postgres")
@pytest.mark.django_db
def test_disable_server_side_cursors_makes_iterator_use_a_plain_cursor():
    assert server_side_cursor_used()
    with mock.patch.dict(connection.settings_dict, DISABLE_SERVER_SIDE_CURSORS=True):
        assert not server_side_cursor_used()
