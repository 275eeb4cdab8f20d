"""What both broadcasters share: events, subscriptions, and their base class.

The board pushes changes to every open browser: in one process
(:mod:`sampleproject.board.memorybroadcast`) or through Redis
(:mod:`sampleproject.board.redisbroadcast`); :mod:`sampleproject.board.broadcast`
picks one. This module holds what they have in common: the events, the
resume from ``Last-Event-ID`` (:class:`Subscription`), an in-memory
:class:`History`, and the local fan-out (:class:`Broadcaster`). The
per-subscriber queue (:class:`~sampleproject.board.memorybroadcast.Subscriber`)
and the in-memory broadcaster's clean-up when a subscriber leaves are in
:mod:`sampleproject.board.memorybroadcast`, the file the tutorial has you write.

An :class:`Event` is a small JSON-serialisable dict published on a *channel*
(a string such as ``"board"``). Every event gets the next integer id of its
channel, starting at 1, which the server-sent events view sends as ``id:`` so
that a browser that reconnects can ask to resume with ``Last-Event-ID``.

Two implementations share one interface, :class:`Broadcaster`:

:class:`InMemoryBroadcaster`
    One process, no setup. Right for ``runserver``, tests and a single worker.

:class:`RedisBroadcaster`
    Redis pub/sub, so an event published in any worker process reaches the
    browsers connected to every other one. A Lua script takes the id (``INCR``),
    appends the event to a capped history (a sorted set scored by id) and
    ``PUBLISH``-es it in one atomic step: subscribers see ids in order, and
    whatever a live subscriber saw is in the history a resuming one reads.

Both deliver to the subscribers of their own process the same way (the *local
fan-out*): the in-memory one when an event is published, the Redis one when
an event arrives from Redis. A process holds one Redis pub/sub connection per
channel and event loop, however many browsers are subscribed: hundreds of
server-sent event streams on one worker cost one connection, not hundreds.

:func:`get_broadcaster` returns the process-wide instance: Redis when the
``BOARD_REDIS_URL`` setting (or, when that setting is absent, the ``REDIS_URL``
environment variable) is a non-empty URL, in-memory otherwise.

Subscribing
-----------

``subscribe(channel, last_event_id)`` returns an async context manager whose
value is an async iterator of events::

    async with broadcaster.subscribe("board", last_event_id) as events:
        async for event in events:
            yield event.sse()

It first listens live, then reads the history, then yields the retained events
with an id above ``last_event_id`` followed by the live ones, skipping live ids
it has already replayed: no duplicates and no gaps across the hand-over. Ids
are consecutive per channel, so a missing id in the live stream (a message lost
while Redis reconnected, say) is noticed and filled in from the history.
Without ``last_event_id``, the events published from the moment
``subscribe()`` is entered arrive.

With Redis, "listening live" means that the process's shared subscription to
the channel is confirmed by Redis: the first local subscriber of a channel
opens it and waits for the confirmation (so do the ones that arrive
meanwhile); a subscriber that joins it once it is live reads the history at
once.

Cancelling a pending ``__anext__`` (say, ``asyncio.wait_for`` to send an SSE
keep-alive comment when nothing happened for a while) loses no event.

Leaving the ``async with`` block, normally, by an exception, by cancellation
(``CancelledError``) or by ``aclose()`` of an async generator wrapped around it
(``GeneratorExit``), removes the subscriber: no queue or task is left behind,
and when it was the last local subscriber of its channel (on its event loop),
the shared Redis connection is closed before the block is left (or soon after,
in the background, when a second cancellation interrupts the wait). That is
what happens when Django stops streaming to a browser that went away.

:meth:`Broadcaster.subscriber_count` counts the subscribers of this process;
:meth:`RedisBroadcaster.redis_subscriptions` asks Redis how many connections
(of every process) are subscribed to a channel.

The resync marker: when gap-free delivery cannot be promised
--------------------------------------------------------------

The iterator then yields one last event with ``kind == "resync"`` (see
:data:`RESYNC`) and ends. Its ``data["reason"]`` says why:

``"overflow"``
    Slow-subscriber policy. Each subscriber has a bounded queue
    (``queue_size``, 100 by default). Neither a publisher nor the Redis reader
    ever waits for a subscriber: when a subscriber's queue is full, that
    subscriber is dropped on the spot (its queued events are discarded and it
    no longer counts as a subscriber) and its iterator yields the marker next.
    Publishers and other subscribers are not slowed down.
``"gap"``
    ``last_event_id`` is older than the retained history (``history``, the last
    200 events per channel by default), so events in between are lost.
``"unknown-id"``
    ``last_event_id`` is newer than anything published on the channel: the
    id comes from before a restart of an in-memory broadcaster or a Redis
    flush.
``"disconnected"``
    Redis went away and redis-py's reconnection attempts failed. Every local
    subscriber of the lost shared subscription gets it; the next subscriber
    of the channel opens a new one.

The marker's id is the newest id the subscription knew of when it gave up.
The SSE view sends it like any other event; the browser reacts to ``resync`` by
reloading its state (the page), since it missed something.

Event loops and threads
-----------------------

asyncio objects must not be shared across event loops, yet there are several:
tests make a loop per test, and ``async_to_sync`` (the sync, WSGI path, see
:meth:`Broadcaster.publish_sync`) runs a fresh one per call. So a broadcaster
holds no loop-bound object of its own and may be used from any loop and thread:

- a subscriber's queue is created on the loop that subscribes, and a publisher
  on another loop or thread hands it events with ``call_soon_threadsafe``;
  a subscriber whose loop has closed is dropped;
- shared bookkeeping (ids, history, subscriber sets) sits behind a
  ``threading.Lock`` that is held only for short non-awaiting sections;
- :class:`RedisBroadcaster` keeps one ``redis.asyncio`` client per running
  event loop, created lazily on first use in that loop, and one shared pub/sub
  subscription (connection and reader task) per channel and event loop;
  entries of closed loops are pruned. ``publish_sync`` on a loop that has no
  client yet (every ``async_to_sync`` call under WSGI) uses a throwaway client
  and closes it.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import dataclasses
import json
import threading
from collections import deque
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from asgiref.sync import async_to_sync

if TYPE_CHECKING:
    from sampleproject.board.memorybroadcast import Subscriber

#: The ``kind`` of the final event of a subscription that lost events.
RESYNC = "resync"
DEFAULT_HISTORY = 200
DEFAULT_QUEUE_SIZE = 100


@dataclasses.dataclass(frozen=True)
class Event:
    """One published change. Treat ``data`` as read-only: it is shared."""

    id: int
    channel: str
    data: dict[str, Any]
    kind: str = "update"

    def sse(self) -> str:
        """This event in the ``text/event-stream`` format, blank line included."""
        payload = json.dumps(self.data, separators=(",", ":"))
        return f"id: {self.id}\nevent: {self.kind}\ndata: {payload}\n\n"


def json_copy(data: dict[str, Any]) -> dict[str, Any]:
    """What every subscriber sees: the data after a JSON round trip."""
    return json.loads(json.dumps(data))


@dataclasses.dataclass(frozen=True)
class Lost:
    """Queue item: the subscriber lost events and must resync."""

    id: int | None
    reason: str


_CLOSED = object()  # Queue item: the broadcaster closed.


class History:
    """The newest id and the last ``size`` events of each channel, in memory.

    Thread-safe: ids are taken and events retained under its own lock.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._ids: dict[str, int] = {}
        self._retained: dict[str, deque[Event]] = {}

    def add(self, channel: str, data: dict[str, Any], kind: str) -> Event:
        """A new event with the channel's next id, retained."""
        with self._lock:
            event = Event(self._ids.get(channel, 0) + 1, channel, data, kind)
            self._ids[channel] = event.id
            retained = self._retained.setdefault(channel, deque(maxlen=self.size))
            retained.append(event)
            return event

    def after(self, channel: str, after: int | None) -> tuple[int, list[Event]]:
        """The newest id and the retained events after ``after`` (none for None)."""
        with self._lock:
            newest = self._ids.get(channel, 0)
            if after is None:
                return newest, []
            retained = self._retained.get(channel, ())
            return newest, [event for event in retained if event.id > after]

    def clear(self) -> None:
        with self._lock:
            self._ids.clear()
            self._retained.clear()


class Subscription:
    """What :meth:`Broadcaster.subscribe` returns: enter it, then iterate it."""

    def __init__(
        self, broadcaster: Broadcaster, channel: str, last_event_id: int | None
    ) -> None:
        self.broadcaster = broadcaster
        self.channel = channel
        self.last_event_id = last_event_id
        self._subscriber: Subscriber | None = None
        self._listening: contextlib.AbstractAsyncContextManager | None = None
        self._pending: deque[Event] = deque()
        self._held: Event | None = None  # Live event whose gap is being filled.
        self._last_seen = 0
        self._entered = False
        self._finished = False

    async def __aenter__(self) -> Subscription:
        if self._entered:
            raise RuntimeError("a subscription can be entered only once")
        self._entered = True
        after = self.last_event_id
        if after is None:
            # Read before listening: whatever comes after is replayed or live.
            after, _ = await self.broadcaster._history(self.channel, None)
        listening = self.broadcaster._listening(self.channel)
        self._subscriber = await listening.__aenter__()
        self._listening = listening
        try:
            await self._catch_up(after)
        except BaseException as error:
            await self._release(type(error), error, error.__traceback__)
            raise
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self._release(*exc_info)

    async def _release(self, *exc_info: Any) -> None:
        """Leave the broadcaster's ``_listening`` block, with the same exception."""
        self._finished = True
        listening, self._listening = self._listening, None
        self._subscriber = None
        if listening is not None:
            await listening.__aexit__(*exc_info)

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Event:
        if not self._entered:
            raise RuntimeError("use `async with broadcaster.subscribe(...)` first")
        while True:
            if self._pending:
                return self._pending.popleft()
            if self._finished:
                raise StopAsyncIteration
            item = self._held or await self._subscriber.queue.get()
            if item is _CLOSED:
                self._finished = True
            elif isinstance(item, Lost):
                self._resync(max(item.id or 0, self._last_seen), item.reason)
            elif item.id == self._last_seen + 1:
                self._last_seen = item.id
                return item
            elif item.id > self._last_seen:
                # A gap: fill it in from the history (which holds this event).
                # Held meanwhile, so that a cancelled __anext__ loses nothing.
                self._held = item
                await self._catch_up(self._last_seen)
                self._held = None
            # else: already replayed from the history; skip it.

    async def _catch_up(self, after: int) -> None:
        newest, events = await self.broadcaster._history(self.channel, after)
        if after > newest:
            self._resync(newest, "unknown-id")
        elif [event.id for event in events] != list(range(after + 1, newest + 1)):
            self._resync(newest, "gap")
        else:
            self._pending.extend(events)
            self._last_seen = newest

    def _resync(self, event_id: int, reason: str) -> None:
        marker = Event(event_id, self.channel, {"reason": reason}, RESYNC)
        self._pending.append(marker)
        self._finished = True


class Broadcaster(abc.ABC):
    """Publish events on channels; subscribe to a channel with resume.

    Usable from any event loop and thread (see the module documentation).
    """

    def __init__(
        self, *, history: int = DEFAULT_HISTORY, queue_size: int = DEFAULT_QUEUE_SIZE
    ) -> None:
        if history < 1 or queue_size < 1:
            raise ValueError("history and queue_size must be at least 1")
        self.history = history
        self.queue_size = queue_size
        self._lock = threading.Lock()
        self._subscribers: dict[str, set[Subscriber]] = {}
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    @abc.abstractmethod
    async def publish(
        self, channel: str, data: dict[str, Any], kind: str = "update"
    ) -> Event:
        """Give ``data`` the channel's next id, retain it and send it to everyone."""

    def subscribe(self, channel: str, last_event_id: int | None = None) -> Subscription:
        """Events on ``channel``: the retained ones after ``last_event_id``, then live.

        Use as ``async with broadcaster.subscribe(...) as events:``.
        """
        return Subscription(self, channel, last_event_id)

    async def subscriber_count(self, channel: str) -> int:
        """How many subscriptions of this process listen to ``channel`` right now.

        Every event loop of this process counts; other processes do not (for
        Redis, see :meth:`RedisBroadcaster.redis_subscriptions`). A subscription
        counts from the moment it starts entering its ``async with`` block until
        it leaves it or ends (after a resync marker, or :meth:`close`).
        """
        return len(self._local_subscribers(channel))

    def publish_sync(
        self, channel: str, data: dict[str, Any], kind: str = "update"
    ) -> Event:
        """:meth:`publish` for sync code (WSGI views, management commands).

        Runs through ``async_to_sync``, so it cannot be called from a thread
        that runs an event loop: there, ``await publish(...)``.
        """
        return async_to_sync(self._publish_once)(channel, data, kind)

    async def _publish_once(self, channel: str, data: dict[str, Any], kind: str):
        return await self.publish(channel, data, kind)

    async def close(self) -> None:
        """End every subscription and release connections. Idempotent.

        Iterators of open subscriptions stop (``StopAsyncIteration``) after the
        events already queued for them; ``publish`` and ``subscribe`` raise
        ``RuntimeError`` from then on.
        """
        with self._lock:
            self._closed = True
            subscribers = [s for group in self._subscribers.values() for s in group]
        for subscriber in subscribers:
            self._dispatch(subscriber, subscriber.end, _CLOSED)
        await self._release()

    @abc.abstractmethod
    async def _release(self) -> None:
        """Free what the implementation holds once closed."""

    # The local fan-out: this process's subscribers, shared by both implementations.

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(f"{type(self).__name__} is closed")

    def _register(self, subscriber: Subscriber) -> None:
        """Count ``subscriber`` from now; it receives what is published next."""
        with self._lock:
            self._check_open()
            self._subscribers.setdefault(subscriber.channel, set()).add(subscriber)

    def _unregister(self, subscriber: Subscriber) -> None:
        with self._lock:
            group = self._subscribers.get(subscriber.channel)
            if group is not None:
                group.discard(subscriber)
                if not group:
                    del self._subscribers[subscriber.channel]

    def _local_subscribers(self, channel: str) -> list[Subscriber]:
        """The registered subscribers of ``channel``, minus those of closed loops."""
        with self._lock:
            group = self._subscribers.get(channel)
            if group is None:
                return []
            for subscriber in [s for s in group if s.loop.is_closed()]:
                subscriber.done = True
                group.discard(subscriber)
            if not group:
                del self._subscribers[channel]
            return list(group)

    def _fan_out(self, subscribers: Iterable[Subscriber], event: Event) -> None:
        """Hand ``event`` to each subscriber, in its own loop, without waiting.

        Each subscriber's ``deliver`` applies the slow-subscriber policy.
        """
        for subscriber in subscribers:
            self._dispatch(subscriber, subscriber.deliver, event)

    def _dispatch(self, subscriber: Subscriber, method, item: object) -> None:
        """Call ``method(item)`` in the subscriber's own event loop."""
        if subscriber.loop is asyncio.get_running_loop():
            method(item)
            return
        try:
            subscriber.loop.call_soon_threadsafe(method, item)
        except RuntimeError:  # Its loop is closed: nobody will read it.
            subscriber.done = True
            self._unregister(subscriber)

    @abc.abstractmethod
    def _listening(
        self, channel: str
    ) -> contextlib.AbstractAsyncContextManager[Subscriber]:
        """A registered subscriber that receives every event published from now.

        Leaving the block unregisters it, whatever ended the block (an
        exception, ``CancelledError``, ``GeneratorExit``), even in a task
        that was cancelled.
        """

    @abc.abstractmethod
    async def _history(
        self, channel: str, after: int | None
    ) -> tuple[int, list[Event]]:
        """The newest id and, read at the same instant, retained events after ``after``.

        With ``after=None`` only the newest id (and an empty list).
        """
