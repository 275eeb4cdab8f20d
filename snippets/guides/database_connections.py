"""Database connections under ASGI: sizing psycopg's pool, and giving connections back.

Shown on docs/guides/database-connections.md; tests run each piece against the
local PostgreSQL (tests/snippets/guides/test_database_connections.py).
"""

import asyncio

from asgiref.sync import sync_to_async
from django.db import connection
from django.http import StreamingHttpResponse

from sampleproject.board.models import Check, Incident


# start-pooled-settings
def pooled(database: dict, *, max_size: int, timeout: float = 10.0) -> dict:
    """A DATABASES entry that borrows connections from psycopg's pool.

    Django refuses the pool with persistent connections: CONN_MAX_AGE must be 0.
    """
    return {
        **database,
        "CONN_MAX_AGE": 0,
        "OPTIONS": {
            **database.get("OPTIONS", {}),
            "pool": {"min_size": 1, "max_size": max_size, "timeout": timeout},
        },
    }


# end-pooled-settings


# start-pool-size
def pool_max_size(
    max_connections: int, reserved: int, other_clients: int, processes: int
) -> int:
    """The largest max_size at which every process's pool fits under the server's limit.

    ``reserved``: the slots PostgreSQL keeps for superusers (and, from 16, for
    roles with pg_use_reserved_connections). ``other_clients``: migrations, cron
    jobs, psql, a worker queue. ``processes``: every process that holds a pool,
    on every machine: servers times workers, during a deployment's overlap too.
    """
    available = max_connections - reserved - other_clients
    if available < processes:
        raise ValueError(
            f"{available} connections cannot give {processes} processes one each"
        )
    return available // processes


def server_limits() -> tuple[int, int]:
    """max_connections and the reserved slots, as this server reports them."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT name, setting::int FROM pg_settings WHERE name IN"
            " ('max_connections', 'superuser_reserved_connections',"
            " 'reserved_connections')"
        )
        settings = dict(cursor.fetchall())
    reserved = settings["superuser_reserved_connections"]
    return settings["max_connections"], reserved + settings.get(
        "reserved_connections", 0
    )


# end-pool-size


# start-close-before-streaming
def close_connection():
    # Look the connection up here, in the thread that runs this function:
    # sync_to_async(connection.close) would bind the event loop thread's one.
    connection.close()


async def open_incidents_stream(request):
    """Query, give the connection back, then stream while the client stays."""
    count = await Incident.objects.filter(closed_at__isnull=True).acount()
    # The ORM ran in this request's thread: close that thread's connection, so
    # the pool can lend it to other requests while this response streams.
    await sync_to_async(close_connection)()
    return StreamingHttpResponse(heartbeat(count), content_type="text/event-stream")


# end-close-before-streaming


async def open_incidents_stream_holding(request):
    """The same view without the close: it holds a connection until the end."""
    count = await Incident.objects.filter(closed_at__isnull=True).acount()
    return StreamingHttpResponse(heartbeat(count), content_type="text/event-stream")


async def heartbeat(count: int, interval: float = 15.0):
    yield f"data: {count}\n\n"
    while True:
        await asyncio.sleep(interval)
        yield ": keep-alive\n\n"


# start-thread-insensitive
def failed_checks_sync() -> int:
    try:
        return Check.objects.filter(ok=False).count()
    finally:
        # This thread serves no request, so no request_finished will close its
        # connection: without this line it keeps a pooled one checked out.
        connection.close()


async def failed_checks() -> int:
    return await sync_to_async(failed_checks_sync, thread_sensitive=False)()


# end-thread-insensitive
