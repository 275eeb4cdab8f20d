"""Pub/sub through Redis, so an event published in any process reaches them all.

See :mod:`sampleproject.board.pubsub` for the protocol both broadcasters keep.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import redis.asyncio

from sampleproject.board.memorybroadcast import Subscriber
from sampleproject.board.pubsub import (
    DEFAULT_HISTORY,
    DEFAULT_QUEUE_SIZE,
    Broadcaster,
    Event,
    Lost,
    json_copy,
)

# The name it had before the broadcasters were split: log configuration keeps working.
logger = logging.getLogger("sampleproject.board.broadcast")

DEFAULT_REDIS_PREFIX = "statusboard:"
#: Per event loop, connections for publishing and reading history.
DEFAULT_MAX_CONNECTIONS = 50


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


class _Member(Subscriber):
    """A local subscriber of a Redis channel: a queue, and the feed that fills it."""

    feed: _Feed


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
        self.members: set[_Member] = set()
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
        data = json_copy(data)
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

    @contextlib.asynccontextmanager
    async def _listening(self, channel: str) -> AsyncIterator[_Member]:
        subscriber = await self._listen(channel)
        try:
            yield subscriber
        finally:
            await self._unlisten(subscriber)

    async def _listen(self, channel: str) -> _Member:
        subscriber = _Member(channel, self.queue_size, self._unregister)
        self._register(subscriber)
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

    async def _unlisten(self, subscriber: _Member) -> None:
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
                subscriber.end(Lost(None, "disconnected"))

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
