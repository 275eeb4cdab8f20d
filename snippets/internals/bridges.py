"""Code shown on docs/internals/bridges.md; tests/internals/test_bridges.py runs it.

:class:`Stores` keeps one value four ways, to see which survives a hop between
threads. The three ``count_services`` functions are sync code that needs an
async result, run from a thread-sensitive thread inside and outside a
``ThreadSensitiveContext``.
"""

import asyncio
import contextvars
import threading

from asgiref.local import Local
from asgiref.sync import async_to_sync

from sampleproject.board.models import Service


class Stores:
    """One value, kept in each kind of storage that Python and asgiref offer."""

    def __init__(self):
        self.thread_local = threading.local()
        self.context_var = contextvars.ContextVar("value", default=None)
        self.local = Local()
        self.critical_local = Local(thread_critical=True)  # As Django's connections.

    def write(self, value):
        self.thread_local.value = value
        self.context_var.set(value)
        self.local.value = value
        self.critical_local.value = value

    def read(self) -> dict:
        return {
            "threading.local": getattr(self.thread_local, "value", None),
            "ContextVar": self.context_var.get(),
            "Local": getattr(self.local, "value", None),
            "critical Local": getattr(self.critical_local, "value", None),
        }


async def count_services() -> int:
    """Async code that uses the ORM: the query itself runs through sync_to_async."""
    return await Service.objects.acount()


def count_services_blocking(loop: asyncio.AbstractEventLoop, timeout: float) -> int:
    """Wrong: park this thread until the event loop has counted.

    The timeout turns a hang into an error, so the example cannot freeze.
    """
    future = asyncio.run_coroutine_threadsafe(count_services(), loop)
    return future.result(timeout=timeout)


def count_services_bridged() -> int:
    """Right: async_to_sync lends this thread to the sync_to_async calls below."""
    return async_to_sync(count_services)()
