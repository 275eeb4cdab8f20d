"""See where Django runs your code (docs/internals/async-safety.md).

``query_threads()`` records which threads execute the SQL of an awaited call;
``ticks_while()`` counts how often another task got to run while some code ran;
``slow_query()`` is a sync query that keeps the database busy for a while.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import threading
from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import sync_to_async
from django.db import connection

# Counts to %s in SQL: busy work for the database, the same on SQLite and PostgreSQL.
SLOW_SQL = (
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %s)"
    " SELECT count(*) FROM n"
)


def slow_query(rows: int = 300_000) -> int:
    """A sync query that the database takes a while to answer."""
    with connection.cursor() as cursor:
        cursor.execute(SLOW_SQL, [rows])
        return cursor.fetchone()[0]


async def query_threads(call: Callable[[], Awaitable[Any]]) -> tuple[Any, list[int]]:
    """Await ``call()``; return its result and the ids of the threads that ran its SQL.

    An execute wrapper sees every query of the connection it is installed on, and
    each thread has its own connection. So install it from the thread that the
    ORM's async methods use: asgiref's thread-sensitive worker, which
    ``sync_to_async`` reaches too.
    """
    threads: list[int] = []

    def record(execute, sql, params, many, context):
        threads.append(threading.get_ident())
        return execute(sql, params, many, context)

    wrappers = contextlib.ExitStack()
    await sync_to_async(
        lambda: wrappers.enter_context(connection.execute_wrapper(record))
    )()
    try:
        result = await call()
    finally:
        await sync_to_async(wrappers.close)()
    return result, threads


async def ticks_while(work: Callable[[], Any]) -> int:
    """How many times another task ran while ``work()`` ran.

    A ticker task counts each turn the event loop gives it. ``work`` is a plain
    function (called here, on the event loop's thread) or a coroutine function
    (awaited here).
    """
    ticks = 0

    async def ticker():
        nonlocal ticks
        while True:
            await asyncio.sleep(0)
            ticks += 1

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)  # Let the ticker start.
    try:
        before = ticks
        result = work()
        if inspect.isawaitable(result):
            await result
        return ticks - before
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
