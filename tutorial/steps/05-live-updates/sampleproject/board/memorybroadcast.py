"""Pub/sub inside one process: the broadcaster the board uses without Redis."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from sampleproject.board.pubsub import Event, Lost


class Subscriber:
    """One subscriber's bounded queue, read by the event loop that subscribed."""

    def __init__(self, channel: str, limit: int, drop: Callable) -> None:
        self.channel = channel
        self.loop = asyncio.get_running_loop()
        # No maxsize: deliver() keeps the limit, so that the last item always fits.
        self.queue: asyncio.Queue = asyncio.Queue()
        self.limit = limit
        self.done = False
        self._drop = drop

    def deliver(self, event: Event) -> None:
        """Queue ``event`` without waiting; when the queue is full, give up instead."""
        if self.done:
            return
        if self.queue.qsize() >= self.limit:
            self.end(Lost(event.id, "overflow"), discard=True)
        else:
            self.queue.put_nowait(event)

    def end(self, item: object, *, discard: bool = False) -> None:
        """Stop receiving, maybe ``discard`` what is queued, and queue ``item`` last."""
        if self.done:
            return
        self.done = True
        self._drop(self)
        while discard and not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(item)
