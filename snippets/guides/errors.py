"""Code that raises the async errors of docs/guides/errors.md, one each.

Each function is the smallest form of a mistake the page describes; the page's
doctests call them and show the exact error text, and
tests/snippets/guides/test_errors.py checks each error and its fix.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import gc
import logging

from django.db import connections
from django.db.backends.postgresql.base import DatabaseWrapper

from sampleproject.board.models import Service


async def two_queries_in_one_context():
    """Two awaited queries as tasks that share one context, as asend() does."""
    loop = asyncio.get_running_loop()
    context = contextvars.copy_context()  # one context for both: the mistake
    first = loop.create_task(Service.objects.acount(), context=context)
    second = loop.create_task(Service.objects.acount(), context=context)
    return await asyncio.gather(first, second)


async def two_queries_each_in_its_own_context():
    # create_task() copies the current context for each task by default.
    first = asyncio.create_task(Service.objects.acount())
    second = asyncio.create_task(Service.objects.acount())
    return await asyncio.gather(first, second)


def forget_to_await() -> None:
    Service.objects.acount()  # makes a coroutine, never runs it


class CheckClient:
    """A client that keeps the loop it first ran on, as a cached connection does."""

    def __init__(self):
        self.loop: asyncio.AbstractEventLoop | None = None

    async def ping(self) -> str:
        if self.loop is None:
            self.loop = asyncio.get_running_loop()
        answer = self.loop.create_future()
        self.loop.call_soon(answer.set_result, "pong")
        return await answer


async def ping_on_each_loop() -> str:
    # The fix: make the client inside the loop that uses it.
    return await CheckClient().ping()


def lose_a_pending_task() -> None:
    """Close a loop with a task still waiting, and let the task be collected."""
    loop = asyncio.new_event_loop()

    async def start():
        asyncio.create_task(asyncio.Event().wait())  # noqa: RUF006 (the mistake)

    loop.run_until_complete(start())
    loop.close()
    gc.collect()


@contextlib.contextmanager
def asyncio_log():
    """Collect what asyncio's logger writes, one message per item."""
    messages: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: messages.append(record.getMessage())
    logger = logging.getLogger("asyncio")
    logger.addHandler(handler)
    try:
        yield messages
    finally:
        logger.removeHandler(handler)


def pooled_wrapper(max_size: int = 1, timeout: float = 0.5) -> DatabaseWrapper:
    """A connection to the default PostgreSQL database through a small pool."""
    settings = connections["default"].settings_dict
    options = {"pool": {"min_size": 0, "max_size": max_size, "timeout": timeout}}
    return DatabaseWrapper({**settings, "OPTIONS": options}, alias="pooled")


def take_two_from_a_pool_of_one() -> None:
    first, second = pooled_wrapper(), pooled_wrapper()
    try:
        first.ensure_connection()
        second.ensure_connection()  # waits for first's connection, then gives up
    finally:
        first.close()
        first.close_pool()


def one_connection_per_worker(settings: dict, workers: int) -> list[DatabaseWrapper]:
    """Connect as ``workers`` threads would, each with its own connection."""
    opened = []
    try:
        for worker in range(workers):
            wrapper = DatabaseWrapper(settings, alias=f"worker-{worker}")
            wrapper.ensure_connection()
            opened.append(wrapper)
    except Exception:
        for wrapper in opened:
            wrapper.close()
        raise
    return opened
