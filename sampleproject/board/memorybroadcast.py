"""Pub/sub inside one process: the broadcaster the board uses without Redis."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

from sampleproject.board.pubsub import Broadcaster, Event, History, Lost, json_copy


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


class InMemoryBroadcaster(Broadcaster):
    """Events reach the subscribers of this process only."""

    def __init__(self, **options: int) -> None:
        super().__init__(**options)
        self._retained = History(self.history)  # Ids and recent events, per channel.

    async def publish(self, channel: str, data: dict, kind: str = "update") -> Event:
        data = json_copy(data)  # Same rules, and same isolation, as Redis.
        with self._lock:
            self._check_open()
            event = self._retained.add(channel, data, kind)
            # Taken with the id: whoever registers later reads it in the history.
            subscribers = list(self._subscribers.get(channel, ()))
        self._fan_out(subscribers, event)
        return event

    @contextlib.asynccontextmanager
    async def _listening(self, channel: str) -> AsyncIterator[Subscriber]:
        subscriber = Subscriber(channel, self.queue_size, self._unregister)
        self._register(subscriber)
        try:
            yield subscriber
        finally:  # However the block is left: normally, by an error, cancelled.
            subscriber.done = True
            self._unregister(subscriber)

    async def _history(self, channel: str, after: int | None) -> tuple[int, list]:
        return self._retained.after(channel, after)

    async def _release(self) -> None:
        self._retained.clear()
