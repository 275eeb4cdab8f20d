"""The process-wide broadcaster: through Redis when configured, in memory otherwise.

:func:`get_broadcaster` returns it: a
:class:`~sampleproject.board.redisbroadcast.RedisBroadcaster` when the
``BOARD_REDIS_URL`` setting (or, when that setting is absent, the ``REDIS_URL``
environment variable) is a non-empty URL, an
:class:`~sampleproject.board.memorybroadcast.InMemoryBroadcaster` otherwise.
"""

from __future__ import annotations

import asyncio
import os
import threading
from typing import Any

from asgiref.sync import async_to_sync

from sampleproject.board.memorybroadcast import InMemoryBroadcaster
from sampleproject.board.pubsub import Broadcaster, Event
from sampleproject.board.redisbroadcast import DEFAULT_REDIS_PREFIX, RedisBroadcaster

_instance: Broadcaster | None = None
_instance_lock = threading.Lock()
_closing: set[asyncio.Task] = set()


def redis_url() -> str | None:
    """The Redis URL the board uses, or ``None`` for in-process pub/sub.

    The ``BOARD_REDIS_URL`` setting when present (an empty string forces
    in-process pub/sub), else the ``REDIS_URL`` environment variable.
    """
    from django.conf import settings

    url = getattr(settings, "BOARD_REDIS_URL", None) if settings.configured else None
    if url is None:
        url = os.environ.get("REDIS_URL")
    return url or None


def get_broadcaster() -> Broadcaster:
    """The process-wide broadcaster, created on first use.

    A :class:`RedisBroadcaster` when :func:`redis_url` gives a URL (with the
    key prefix from the ``BOARD_REDIS_PREFIX`` setting, if any), an
    :class:`InMemoryBroadcaster` otherwise.
    """
    global _instance
    with _instance_lock:
        if _instance is None:
            url = redis_url()
            if url:
                from django.conf import settings

                prefix = getattr(settings, "BOARD_REDIS_PREFIX", DEFAULT_REDIS_PREFIX)
                _instance = RedisBroadcaster(url, prefix=prefix)
            else:
                _instance = InMemoryBroadcaster()
        return _instance


def reset_broadcaster() -> None:
    """Forget the process-wide broadcaster (for tests), closing it.

    Without a running event loop it is closed before this returns; inside one,
    the close is scheduled on that loop (``await get_broadcaster().close()``
    first to wait for it).
    """
    global _instance
    with _instance_lock:
        old, _instance = _instance, None
    if old is None:
        return
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        async_to_sync(old.close)()
    else:
        task = loop.create_task(old.close())
        _closing.add(task)
        task.add_done_callback(_closing.discard)


def publish_sync(channel: str, data: dict[str, Any], kind: str = "update") -> Event:
    """Publish through the process-wide broadcaster from sync code."""
    return get_broadcaster().publish_sync(channel, data, kind)
