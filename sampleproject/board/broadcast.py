"""Push board changes to every open browser: in one process, or through Redis.

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
import logging
import os
import threading
from collections import deque
from collections.abc import Iterable
from typing import Any

import redis.asyncio
from asgiref.sync import async_to_sync

logger = logging.getLogger(__name__)

#: The ``kind`` of the final event of a subscription that lost events.
RESYNC = "resync"
DEFAULT_HISTORY = 200
DEFAULT_QUEUE_SIZE = 100
DEFAULT_REDIS_PREFIX = "statusboard:"
#: Per event loop, connections for publishing and reading history.
DEFAULT_MAX_CONNECTIONS = 50


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


def _json_copy(data: dict[str, Any]) -> dict[str, Any]:
    """What every subscriber sees: the data after a JSON round trip."""
    return json.loads(json.dumps(data))


@dataclasses.dataclass(frozen=True)
class _Lost:
    """Queue item: the subscriber lost events and must resync."""

    id: int | None
    reason: str


_CLOSED = object()  # Queue item: the broadcaster closed.


class _Subscriber:
    """One subscription's mailbox, owned by the event loop that created it.

    Only that loop touches the queue: other loops and threads go through
    ``loop.call_soon_threadsafe`` (see :meth:`Broadcaster._dispatch`).
    """

    def __init__(self, channel: str, limit: int, drop) -> None:
        self.channel = channel
        self.loop = asyncio.get_running_loop()
        # Unbounded on purpose: deliver() enforces the bound, so the final
        # marker always fits.
        self.queue: asyncio.Queue = asyncio.Queue()
        self.limit = limit
        self.done = False
        self._drop = drop
        # Redis only: the shared subscription it receives events from.
        self.feed: _Feed | None = None

    def deliver(self, event: Event) -> None:
        """Queue ``event``, or drop the subscriber when its queue is full."""
        if self.done:
            return
        if self.queue.qsize() >= self.limit:
            self.end(_Lost(event.id, "overflow"), discard=True)
        else:
            self.queue.put_nowait(event)

    def end(self, item: object, *, discard: bool = False) -> None:
        """Stop receiving, queue ``item`` last, and maybe ``discard`` the rest."""
        if self.done:
            return
        self.done = True
        self._drop(self)
        while discard and not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(item)


class Subscription:
    """What :meth:`Broadcaster.subscribe` returns: enter it, then iterate it."""

    def __init__(
        self, broadcaster: Broadcaster, channel: str, last_event_id: int | None
    ) -> None:
        self.broadcaster = broadcaster
        self.channel = channel
        self.last_event_id = last_event_id
        self._subscriber: _Subscriber | None = None
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
        self._subscriber = await self.broadcaster._listen(self.channel)
        try:
            await self._catch_up(after)
        except BaseException:
            await self._release()
            raise
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._release()

    async def _release(self) -> None:
        self._finished = True
        subscriber, self._subscriber = self._subscriber, None
        if subscriber is not None:
            await self.broadcaster._unlisten(subscriber)

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
            elif isinstance(item, _Lost):
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
        self._subscribers: dict[str, set[_Subscriber]] = {}
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

    def _new_subscriber(self, channel: str) -> _Subscriber:
        """A subscriber of this event loop, registered (it counts from now)."""
        subscriber = _Subscriber(channel, self.queue_size, self._unregister)
        with self._lock:
            self._check_open()
            self._subscribers.setdefault(channel, set()).add(subscriber)
        return subscriber

    def _unregister(self, subscriber: _Subscriber) -> None:
        with self._lock:
            group = self._subscribers.get(subscriber.channel)
            if group is not None:
                group.discard(subscriber)
                if not group:
                    del self._subscribers[subscriber.channel]

    def _local_subscribers(self, channel: str) -> list[_Subscriber]:
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

    def _fan_out(self, subscribers: Iterable[_Subscriber], event: Event) -> None:
        """Hand ``event`` to each subscriber, in its own loop, without waiting.

        :meth:`_Subscriber.deliver` applies the slow-subscriber policy.
        """
        for subscriber in subscribers:
            self._dispatch(subscriber, subscriber.deliver, event)

    def _dispatch(self, subscriber: _Subscriber, method, item: object) -> None:
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
    async def _listen(self, channel: str) -> _Subscriber:
        """A registered subscriber that receives every event published from now."""

    @abc.abstractmethod
    async def _unlisten(self, subscriber: _Subscriber) -> None:
        """Undo :meth:`_listen`, even when called from a cancelled task."""

    @abc.abstractmethod
    async def _history(
        self, channel: str, after: int | None
    ) -> tuple[int, list[Event]]:
        """The newest id and, read at the same instant, retained events after ``after``.

        With ``after=None`` only the newest id (and an empty list).
        """


class InMemoryBroadcaster(Broadcaster):
    """Pub/sub inside one process: events reach subscribers of this process only."""

    def __init__(
        self, *, history: int = DEFAULT_HISTORY, queue_size: int = DEFAULT_QUEUE_SIZE
    ) -> None:
        super().__init__(history=history, queue_size=queue_size)
        self._ids: dict[str, int] = {}
        self._retained: dict[str, deque[Event]] = {}

    async def publish(
        self, channel: str, data: dict[str, Any], kind: str = "update"
    ) -> Event:
        data = _json_copy(data)  # Same rules, and same isolation, as Redis.
        with self._lock:
            self._check_open()
            event = Event(self._ids.get(channel, 0) + 1, channel, data, kind)
            self._ids[channel] = event.id
            retained = self._retained.setdefault(channel, deque(maxlen=self.history))
            retained.append(event)
            # Taken with the id: whoever registers later reads it in the history.
            subscribers = list(self._subscribers.get(channel, ()))
        self._fan_out(subscribers, event)
        return event

    async def _listen(self, channel: str) -> _Subscriber:
        return self._new_subscriber(channel)

    async def _unlisten(self, subscriber: _Subscriber) -> None:
        subscriber.done = True
        self._unregister(subscriber)

    async def _release(self) -> None:
        with self._lock:
            self._ids.clear()
            self._retained.clear()

    async def _history(
        self, channel: str, after: int | None
    ) -> tuple[int, list[Event]]:
        with self._lock:
            newest = self._ids.get(channel, 0)
            if after is None:
                return newest, []
            retained = self._retained.get(channel, ())
            return newest, [event for event in retained if event.id > after]


# KEYS: the id counter, the history. ARGV: the event as JSON without its id,
# how many events to retain, the pub/sub channel. The message gets the id
# spliced in, so it is still one JSON object.
_PUBLISH_SCRIPT = """
local id = redis.call('INCR', KEYS[1])
local message = '{"id":' .. string.format('%d', id) .. ',' .. string.sub(ARGV[1], 2)
redis.call('ZADD', KEYS[2], string.format('%d', id), message)
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -1 - tonumber(ARGV[2]))
redis.call('PUBLISH', ARGV[3], message)
return id
"""


class _Feed:
    """The shared Redis subscription to one channel, for one event loop.

    It owns a pub/sub connection and the task that subscribes it, then reads it
    and fans each event out to ``members``: the local subscribers (all of this
    loop) that have not left yet. Only its own loop touches it, except for the
    registry of feeds in :class:`RedisBroadcaster`, behind its lock.
    """

    def __init__(self, channel: str) -> None:
        self.channel = channel
        self.loop = asyncio.get_running_loop()
        self.members: set[_Subscriber] = set()
        self.confirmed = asyncio.Event()  # Set when live, or when it failed.
        self.error: BaseException | None = None
        self._traceback: Any = None
        self.abandoned = False
        self.pubsub: Any = None
        self.task: asyncio.Task | None = None

    def fail(self, error: BaseException) -> None:
        """Give up before being live: members waiting to listen get ``error``."""
        if not self.confirmed.is_set():
            self.error, self._traceback = error, error.__traceback__
            self.confirmed.set()

    def raise_error(self) -> None:
        """Raise the error it failed with, if any, with its own traceback.

        Every waiting member raises the same exception: reset the traceback
        each time so that it does not grow with each of them (like asyncio).
        """
        if self.error is not None:
            raise self.error.with_traceback(self._traceback)


class RedisBroadcaster(Broadcaster):
    """Pub/sub through Redis, across processes.

    For a channel ``c`` it uses the keys ``{prefix}c:id`` (the id counter) and
    ``{prefix}c:history`` (the retained events) and the pub/sub channel
    ``{prefix}c``.

    Per event loop, the local subscribers of a channel share one pub/sub
    connection (a :class:`_Feed`), opened for the first of them and closed when
    the last one leaves, with one reader task that fans messages out to their
    bounded queues. Publishing, history reads and ``PUBSUB NUMSUB`` go through
    the loop's client instead, whose blocking pool holds up to
    ``max_connections`` connections: a burst of subscribers reading the history
    waits for a free connection (up to ``pool_timeout`` seconds, then
    ``redis.ConnectionError``) instead of opening one each. Extra keyword
    arguments go to the connection pools (``redis.asyncio.ConnectionPool``).
    """

    def __init__(
        self,
        url: str,
        *,
        prefix: str = DEFAULT_REDIS_PREFIX,
        history: int = DEFAULT_HISTORY,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        subscribe_timeout: float = 10.0,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        pool_timeout: float | None = 10.0,
        **client_options: Any,
    ) -> None:
        super().__init__(history=history, queue_size=queue_size)
        if max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        self.url = url
        self.prefix = prefix
        self.subscribe_timeout = subscribe_timeout
        self.max_connections = max_connections
        self.pool_timeout = pool_timeout
        self._client_options = client_options
        # One client per event loop: redis.asyncio connections are loop-bound.
        self._clients: dict[asyncio.AbstractEventLoop, redis.asyncio.Redis] = {}
        # The feed new subscribers join, per event loop and channel.
        self._feeds: dict[tuple[asyncio.AbstractEventLoop, str], _Feed] = {}

    def pubsub_channel(self, channel: str) -> str:
        """The Redis pub/sub channel that carries ``channel``."""
        return f"{self.prefix}{channel}"

    def keys(self, channel: str) -> tuple[str, str]:
        """The Redis keys of ``channel``: its id counter and its history."""
        return f"{self.prefix}{channel}:id", f"{self.prefix}{channel}:history"

    def _new_client(self, max_connections: int | None = None):
        pool = redis.asyncio.BlockingConnectionPool.from_url(
            self.url,
            max_connections=max_connections or self.max_connections,
            timeout=self.pool_timeout,
            **self._client_options,
        )
        return redis.asyncio.Redis.from_pool(pool)

    def _client(self):
        """This event loop's client, created on first use."""
        loop = asyncio.get_running_loop()
        with self._lock:
            for other in [other for other in self._clients if other.is_closed()]:
                del self._clients[other]
            client = self._clients.get(loop)
            if client is None:
                self._check_open()
                client = self._clients[loop] = self._new_client()
            return client

    async def publish(
        self, channel: str, data: dict[str, Any], kind: str = "update"
    ) -> Event:
        self._check_open()
        return await self._publish_with(self._client(), channel, data, kind)

    async def _publish_once(self, channel: str, data: dict[str, Any], kind: str):
        loop = asyncio.get_running_loop()
        with self._lock:
            has_client = loop in self._clients
        if has_client:  # e.g. ASGI: async_to_sync went back to the server's loop.
            return await self.publish(channel, data, kind)
        self._check_open()
        # A loop of its own (WSGI): it ends with this call, and so does the client.
        client = self._new_client(1)
        try:
            return await self._publish_with(client, channel, data, kind)
        finally:
            await client.aclose()

    async def _publish_with(
        self, client, channel: str, data: dict[str, Any], kind: str
    ) -> Event:
        data = _json_copy(data)
        body = json.dumps({"kind": kind, "data": data}, separators=(",", ":"))
        script = client.register_script(_PUBLISH_SCRIPT)
        args = [body, self.history, self.pubsub_channel(channel)]
        event_id = await script(keys=list(self.keys(channel)), args=args)
        return Event(int(event_id), channel, data, kind)

    async def redis_subscriptions(self, channel: str) -> int:
        """Connections of every process subscribed to ``channel`` (``PUBSUB NUMSUB``).

        This process adds one per event loop that has local subscribers of
        ``channel``, however many. Redis drops a closed connection's
        subscriptions a moment after it closes.
        """
        [(_, count)] = await self._client().pubsub_numsub(self.pubsub_channel(channel))
        return count

    def _decode(self, channel: str, message: bytes | str) -> Event:
        fields = json.loads(message)
        return Event(int(fields["id"]), channel, fields["data"], fields["kind"])

    async def _history(
        self, channel: str, after: int | None
    ) -> tuple[int, list[Event]]:
        client = self._client()
        id_key, history_key = self.keys(channel)
        if after is None:
            return int(await client.get(id_key) or 0), []
        async with client.pipeline(transaction=True) as pipe:
            pipe.get(id_key).zrangebyscore(history_key, f"({after}", "+inf")
            newest, messages = await pipe.execute()
        return int(newest or 0), [self._decode(channel, m) for m in messages]

    async def _listen(self, channel: str) -> _Subscriber:
        subscriber = self._new_subscriber(channel)
        key = (subscriber.loop, channel)
        with self._lock:
            for other in [other for other in self._feeds if other[0].is_closed()]:
                del self._feeds[other]
            feed = self._feeds.get(key)
            if feed is None:
                feed = self._feeds[key] = _Feed(channel)
                feed.task = asyncio.create_task(self._run(feed))
        feed.members.add(subscriber)
        subscriber.feed = feed
        try:
            # Live at once when the feed already is: nothing published after
            # the history is read can be missed.
            await feed.confirmed.wait()
            feed.raise_error()
        except BaseException:
            await self._unlisten(subscriber)
            raise
        return subscriber

    async def _unlisten(self, subscriber: _Subscriber) -> None:
        subscriber.done = True
        self._unregister(subscriber)
        feed = subscriber.feed
        feed.members.discard(subscriber)
        if not feed.members:
            self._abandon(feed)
        if feed.abandoned and not feed.task.done():
            # Wait for the connection to close. A second cancellation stops
            # the wait only: the task closes it anyway.
            await asyncio.wait([feed.task])

    def _forget(self, feed: _Feed) -> None:
        """Let the next subscriber of the channel open a feed of its own."""
        with self._lock:
            key = (feed.loop, feed.channel)
            if self._feeds.get(key) is feed:
                del self._feeds[key]

    def _abandon(self, feed: _Feed) -> None:
        """Close the feed (in its own loop): its task closes the connection."""
        if feed.abandoned:
            return
        feed.abandoned = True
        self._forget(feed)
        feed.members.clear()
        feed.fail(RuntimeError(f"{type(self).__name__} is closed"))
        feed.task.cancel()

    async def _run(self, feed: _Feed) -> None:
        """The feed's task: subscribe, then read until abandoned or disconnected."""
        async with contextlib.AsyncExitStack() as connection:
            try:
                client = self._new_client(1)
                connection.push_async_callback(client.aclose)
                feed.pubsub = client.pubsub()
                connection.push_async_callback(feed.pubsub.aclose)
                await self._subscribe(feed)
            except Exception as error:
                self._forget(feed)
                feed.fail(error)
                return
            feed.confirmed.set()
            await self._read(feed)

    async def _subscribe(self, feed: _Feed) -> None:
        """Subscribe the feed's connection and wait for Redis to confirm."""
        async with asyncio.timeout(self.subscribe_timeout):
            await feed.pubsub.subscribe(self.pubsub_channel(feed.channel))
            message = None
            while message is None or message["type"] != "subscribe":
                message = await feed.pubsub.get_message(timeout=None)

    async def _read(self, feed: _Feed) -> None:
        """Pub/sub messages to the feed's members, through the local fan-out."""
        try:
            while True:
                message = await feed.pubsub.get_message(timeout=None)
                if message is None or message["type"] != "message":
                    continue  # Confirmations, e.g. after redis-py reconnected.
                try:
                    event = self._decode(feed.channel, message["data"])
                except (ValueError, KeyError, TypeError):
                    logger.warning("ignoring a foreign message: %r", message["data"])
                    continue
                self._fan_out(list(feed.members), event)
        except Exception:
            logger.warning("lost the Redis subscription", exc_info=True)
            self._forget(feed)
            for subscriber in list(feed.members):
                subscriber.end(_Lost(None, "disconnected"))

    async def _release(self) -> None:
        loop = asyncio.get_running_loop()
        with self._lock:
            feeds, self._feeds = list(self._feeds.values()), {}
            clients, self._clients = self._clients, {}
        for feed in feeds:
            if feed.loop is loop:
                self._abandon(feed)
            else:
                with contextlib.suppress(RuntimeError):  # A closed loop.
                    feed.loop.call_soon_threadsafe(self._abandon, feed)
        here = [feed.task for feed in feeds if feed.loop is loop]
        if here:
            await asyncio.wait(here)
        for client_loop, client in clients.items():
            if client_loop is loop:
                await client.aclose()
            elif client_loop.is_running():
                asyncio.run_coroutine_threadsafe(client.aclose(), client_loop)


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
