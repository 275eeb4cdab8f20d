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

Cancelling a pending ``__anext__`` (say, ``asyncio.wait_for`` to send an SSE
keep-alive comment when nothing happened for a while) loses no event.

Leaving the ``async with`` block, normally, by an exception, by cancellation
(``CancelledError``) or by ``aclose()`` of an async generator wrapped around it
(``GeneratorExit``), removes the subscriber: no queue, task or Redis connection
is left behind. That is what happens when Django stops streaming to a browser
that went away.

The resync marker: when gap-free delivery cannot be promised
--------------------------------------------------------------

The iterator then yields one last event with ``kind == "resync"`` (see
:data:`RESYNC`) and ends. Its ``data["reason"]`` says why:

``"overflow"``
    Slow-subscriber policy. Each subscriber has a bounded queue
    (``queue_size``, 100 by default). A publisher never waits for a subscriber:
    when a subscriber's queue is full, that subscriber is dropped on the spot
    (its queued events are discarded and it no longer counts as a subscriber;
    with Redis its connection goes when the ``async with`` block is left) and
    its iterator yields the marker next. Publishers and other subscribers are not
    slowed down.
``"gap"``
    ``last_event_id`` is older than the retained history (``history``, the last
    200 events per channel by default), so events in between are lost.
``"unknown-id"``
    ``last_event_id`` is newer than anything published on the channel: the
    id comes from before a restart of an in-memory broadcaster or a Redis
    flush.
``"disconnected"``
    Redis went away and redis-py's reconnection attempts failed.

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
  event loop, created lazily on first use in that loop; entries of closed loops
  are pruned. ``publish_sync`` on a loop that has no client yet (every
  ``async_to_sync`` call under WSGI) uses a throwaway client and closes it.
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
from typing import Any

import redis.asyncio
from asgiref.sync import async_to_sync

logger = logging.getLogger(__name__)

#: The ``kind`` of the final event of a subscription that lost events.
RESYNC = "resync"
DEFAULT_HISTORY = 200
DEFAULT_QUEUE_SIZE = 100
DEFAULT_REDIS_PREFIX = "statusboard:"


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
        # Redis only: the reader task, the pub/sub object, the cleanup task.
        self.task: asyncio.Task | None = None
        self.pubsub: Any = None
        self.cleanup: asyncio.Task | None = None

    def deliver(self, event: Event) -> None:
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

    @abc.abstractmethod
    async def subscriber_count(self, channel: str) -> int:
        """How many subscriptions are listening to ``channel`` right now."""

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
        await self._release(subscribers)

    @abc.abstractmethod
    async def _release(self, subscribers: list[_Subscriber]) -> None:
        """Free what the implementation holds once closed."""

    # Subscriber bookkeeping, shared by both implementations.

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(f"{type(self).__name__} is closed")

    def _register(self, subscriber: _Subscriber) -> None:
        with self._lock:
            self._check_open()
            self._subscribers.setdefault(subscriber.channel, set()).add(subscriber)

    def _unregister(self, subscriber: _Subscriber) -> None:
        with self._lock:
            group = self._subscribers.get(subscriber.channel)
            if group is not None:
                group.discard(subscriber)
                if not group:
                    del self._subscribers[subscriber.channel]

    def _local_subscribers(self, channel: str) -> list[_Subscriber]:
        with self._lock:
            return list(self._subscribers.get(channel, ()))

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
            subscribers = list(self._subscribers.get(channel, ()))
        for subscriber in subscribers:
            self._dispatch(subscriber, subscriber.deliver, event)
        return event

    async def subscriber_count(self, channel: str) -> int:
        return len(self._local_subscribers(channel))

    async def _listen(self, channel: str) -> _Subscriber:
        subscriber = _Subscriber(channel, self.queue_size, self._unregister)
        self._register(subscriber)
        return subscriber

    async def _unlisten(self, subscriber: _Subscriber) -> None:
        subscriber.done = True
        self._unregister(subscriber)

    async def _release(self, subscribers: list[_Subscriber]) -> None:
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


class RedisBroadcaster(Broadcaster):
    """Pub/sub through Redis, across processes.

    For a channel ``c`` it uses the keys ``{prefix}c:id`` (the id counter) and
    ``{prefix}c:history`` (the retained events) and the pub/sub channel
    ``{prefix}c``. Each subscription holds one connection, with a reader task
    that moves messages into the subscriber's bounded queue. Extra keyword
    arguments go to ``redis.asyncio.Redis.from_url``.
    """

    def __init__(
        self,
        url: str,
        *,
        prefix: str = DEFAULT_REDIS_PREFIX,
        history: int = DEFAULT_HISTORY,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        subscribe_timeout: float = 10.0,
        **client_options: Any,
    ) -> None:
        super().__init__(history=history, queue_size=queue_size)
        self.url = url
        self.prefix = prefix
        self.subscribe_timeout = subscribe_timeout
        self._client_options = client_options
        # One client per event loop: redis.asyncio connections are loop-bound.
        self._clients: dict[asyncio.AbstractEventLoop, redis.asyncio.Redis] = {}

    def pubsub_channel(self, channel: str) -> str:
        """The Redis pub/sub channel that carries ``channel``."""
        return f"{self.prefix}{channel}"

    def keys(self, channel: str) -> tuple[str, str]:
        """The Redis keys of ``channel``: its id counter and its history."""
        return f"{self.prefix}{channel}:id", f"{self.prefix}{channel}:history"

    def _new_client(self):
        return redis.asyncio.Redis.from_url(self.url, **self._client_options)

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
        client = self._new_client()
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

    async def subscriber_count(self, channel: str) -> int:
        """Subscribers in every process (``PUBSUB NUMSUB``)."""
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
        self._check_open()
        pubsub = self._client().pubsub()
        try:
            await pubsub.subscribe(self.pubsub_channel(channel))
            # Wait for Redis to confirm, so nothing published after the history
            # is read can be missed.
            async with asyncio.timeout(self.subscribe_timeout):
                message = None
                while message is None or message["type"] != "subscribe":
                    message = await pubsub.get_message(timeout=None)
            subscriber = _Subscriber(channel, self.queue_size, self._unregister)
            self._register(subscriber)
        except BaseException:
            await pubsub.aclose()
            raise
        subscriber.pubsub = pubsub
        subscriber.task = asyncio.create_task(self._read(subscriber))
        return subscriber

    async def _read(self, subscriber: _Subscriber) -> None:
        """The reader task: pub/sub messages into the subscriber's queue."""
        try:
            while not subscriber.done:
                message = await subscriber.pubsub.get_message(timeout=None)
                if message is None or message["type"] != "message":
                    continue  # Confirmations, e.g. after redis-py reconnected.
                try:
                    event = self._decode(subscriber.channel, message["data"])
                except (ValueError, KeyError, TypeError):
                    logger.warning("ignoring a foreign message: %r", message["data"])
                    continue
                subscriber.deliver(event)
        except Exception:
            logger.warning("lost the Redis subscription", exc_info=True)
            subscriber.end(_Lost(None, "disconnected"))

    async def _unlisten(self, subscriber: _Subscriber) -> None:
        subscriber.done = True
        self._unregister(subscriber)
        if subscriber.cleanup is None:
            subscriber.cleanup = asyncio.create_task(self._dispose(subscriber))
        # Shielded: a second cancellation must not leave the connection open.
        await asyncio.shield(subscriber.cleanup)

    async def _dispose(self, subscriber: _Subscriber) -> None:
        subscriber.task.cancel()
        try:
            with contextlib.suppress(asyncio.CancelledError):
                await subscriber.task
        finally:
            await subscriber.pubsub.aclose()

    async def _release(self, subscribers: list[_Subscriber]) -> None:
        loop = asyncio.get_running_loop()
        for subscriber in subscribers:
            if subscriber.loop is loop:
                await self._unlisten(subscriber)
        with self._lock:
            clients, self._clients = self._clients, {}
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
