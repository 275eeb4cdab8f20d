"""Tests for the broadcasters (sampleproject/board/broadcast.py and the modules
it picks from: pubsub.py, memorybroadcast.py, redisbroadcast.py), on both kinds.

The ``make`` fixture builds broadcasters of one kind per run: in-memory, and
Redis when ``REDIS_URL`` is set. Redis runs get a key prefix of their own,
deleted afterwards. Every wait has a timeout, so a bug fails instead of hanging.
"""

import asyncio
import contextlib
import os
import threading
import uuid

import pytest
import pytest_asyncio
import redis
import redis.asyncio
from asgiref.sync import sync_to_async

from sampleproject.board import broadcast, memorybroadcast, redisbroadcast
from sampleproject.board.broadcast import (
    get_broadcaster,
    publish_sync,
    reset_broadcaster,
)
from sampleproject.board.memorybroadcast import InMemoryBroadcaster
from sampleproject.board.pubsub import RESYNC, Event
from sampleproject.board.redisbroadcast import RedisBroadcaster

TIMEOUT = 5
redis_only = pytest.mark.needs_service("redis")


def redis_test(function):
    """A test of RedisBroadcaster only: ``make`` makes Redis broadcasters."""
    function = pytest.mark.asyncio(function)
    function = pytest.mark.parametrize("make", ["redis"], indirect=True)(function)
    return redis_only(function)


@pytest_asyncio.fixture(
    params=["memory", pytest.param("redis", marks=redis_only)],
)
async def make(request):
    """A factory of broadcasters of one kind; closes them and deletes their keys."""
    made = []
    prefix = f"test-broadcast:{uuid.uuid4().hex}:"

    def factory(**options):
        if request.param == "memory":
            made.append(InMemoryBroadcaster(**options))
        else:
            made.append(
                RedisBroadcaster(os.environ["REDIS_URL"], prefix=prefix, **options)
            )
        return made[-1]

    yield factory
    for broadcaster in made:
        await broadcaster.close()
    if request.param == "redis":
        client = redis.asyncio.Redis.from_url(os.environ["REDIS_URL"])
        keys = [key async for key in client.scan_iter(match=prefix + "*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


@pytest.fixture
def broadcaster(make):
    return make()


@pytest.fixture
def is_redis(request):
    return request.node.callspec.params["make"] == "redis"


async def take(events, count):
    async with asyncio.timeout(TIMEOUT):
        return [await anext(events) for _ in range(count)]


async def rest(events):
    async with asyncio.timeout(TIMEOUT):
        return [event async for event in events]


async def nothing_more(events):
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(anext(events), 0.2)


async def eventually(check):
    """Poll ``await check()`` until it is true."""
    async with asyncio.timeout(TIMEOUT):
        while True:
            if await check():
                return
            await asyncio.sleep(0.01)


async def wait_for_count(broadcaster, channel, expected):
    """Poll the local count: a subscriber may still be leaving, in another task."""

    async def check():
        return await broadcaster.subscriber_count(channel) == expected

    await eventually(check)


async def wait_for_redis(broadcaster, channel, expected):
    """Poll PUBSUB NUMSUB: Redis notices a closed connection a little later."""

    async def check():
        return await broadcaster.redis_subscriptions(channel) == expected

    await eventually(check)


def other_tasks():
    return asyncio.all_tasks() - {asyncio.current_task()}


def subscribe_and_abandon(broadcaster):
    """Enter a subscription on a new loop, then close the loop without leaving it.

    Like ``asyncio.run``, except that async generators are not finalized (which
    would leave the subscription's block and unregister it): only the closed
    loop tells that nobody reads the queue. Keep what it returns until the end
    of the test, so that it is not collected while its loop still runs.
    """
    loop = asyncio.new_event_loop()
    try:
        subscription = loop.run_until_complete(
            broadcaster.subscribe("board").__aenter__()
        )
        tasks = asyncio.all_tasks(loop)  # The Redis feed's reader, if any.
        for task in tasks:
            task.cancel()
        if tasks:
            loop.run_until_complete(asyncio.wait(tasks))
    finally:
        loop.close()
    return subscription


def resync(event_id, reason, channel="board"):
    return Event(event_id, channel, {"reason": reason}, RESYNC)


@pytest.mark.asyncio
async def test_publish_then_receive(broadcaster):
    async with broadcaster.subscribe("board") as events:
        sent = await broadcaster.publish("board", {"service": "api", "up": True})
        assert await take(events, 1) == [sent]
    assert sent == Event(1, "board", {"service": "api", "up": True}, "update")


@pytest.mark.asyncio
async def test_ids_increase_per_channel(broadcaster):
    async with broadcaster.subscribe("a") as events:
        sent = [
            await broadcaster.publish("a", {"n": n}, kind="check") for n in range(3)
        ]
        other = await broadcaster.publish("b", {})
        received = await take(events, 3)
    assert [event.id for event in sent] == [1, 2, 3]
    assert received == sent
    assert {event.kind for event in received} == {"check"}
    assert other.id == 1


@pytest.mark.asyncio
async def test_data_is_copied_through_json(broadcaster):
    data = {"tags": ("a", "b")}
    event = await broadcaster.publish("board", data)
    data["tags"] = None
    assert event.data == {"tags": ["a", "b"]}
    with pytest.raises(TypeError):
        await broadcaster.publish("board", {"when": object()})


@pytest.mark.asyncio
async def test_without_last_event_id_only_new_events(broadcaster):
    await broadcaster.publish("board", {"n": 1})
    async with broadcaster.subscribe("board") as events:
        new = await broadcaster.publish("board", {"n": 2})
        assert await take(events, 1) == [new]


@pytest.mark.asyncio
async def test_resume_replays_missed_then_continues_live(broadcaster):
    for n in range(1, 6):
        await broadcaster.publish("board", {"n": n})
    async with broadcaster.subscribe("board", last_event_id=2) as events:
        await broadcaster.publish("board", {"n": 6})  # While replaying.
        replayed = await take(events, 3)
        await broadcaster.publish("board", {"n": 7})
        live = await take(events, 2)
        await nothing_more(events)
    assert [event.id for event in replayed] == [3, 4, 5]
    assert [event.data["n"] for event in replayed + live] == [3, 4, 5, 6, 7]


@pytest.mark.asyncio
async def test_resume_when_up_to_date(broadcaster):
    for _ in range(3):
        await broadcaster.publish("board", {})
    async with broadcaster.subscribe("board", last_event_id=3) as events:
        await broadcaster.publish("board", {})
        assert [event.id for event in await take(events, 1)] == [4]


@pytest.mark.asyncio
async def test_resume_during_a_stream_of_publishes(broadcaster):
    """Subscribing while another task publishes: every id once, in order."""
    halfway = asyncio.Event()

    async def publisher():
        for n in range(1, 41):
            await broadcaster.publish("board", {"n": n})
            if n == 10:
                halfway.set()
            await asyncio.sleep(0)

    task = asyncio.create_task(publisher())
    await halfway.wait()
    async with broadcaster.subscribe("board", last_event_id=5) as events:
        received = []
        async with asyncio.timeout(TIMEOUT):
            async for event in events:
                received.append(event.id)
                if event.id == 40:
                    break
    await task
    assert received == list(range(6, 41))


@pytest.mark.asyncio
@pytest.mark.parametrize("last_event_id", [None, 1])
@pytest.mark.parametrize("already_live", [0, 1], ids=["first", "joining"])
async def test_publish_between_listening_and_reading_history(
    broadcaster, monkeypatch, last_event_id, already_live
):
    """An event both in the live queue and in the history arrives once.

    Whether the subscriber is the first of its channel or joins a (Redis:
    shared) subscription that is already live.
    """
    await broadcaster.publish("board", {"n": 1})
    await broadcaster.publish("board", {"n": 2})
    real_history = broadcaster._history
    raced = []

    async def racing_history(channel, after):
        listening = len(broadcaster._local_subscribers(channel))
        if not raced and listening > already_live:
            raced.append(await broadcaster.publish(channel, {"n": "racer"}))
        return await real_history(channel, after)

    async with contextlib.AsyncExitStack() as stack:
        others = [
            await stack.enter_async_context(broadcaster.subscribe("board", 2))
            for _ in range(already_live)
        ]
        monkeypatch.setattr(broadcaster, "_history", racing_history)
        async with broadcaster.subscribe("board", last_event_id) as events:
            await broadcaster.publish("board", {"n": 4})
            expected = list(range((last_event_id or 2) + 1, 5))
            received = await take(events, len(expected))
            await nothing_more(events)
        for other in others:
            assert [event.id for event in await take(other, 2)] == [3, 4]
    assert raced[0].id == 3
    assert [event.id for event in received] == expected


@pytest.mark.asyncio
async def test_gap_in_live_stream_is_filled_from_history(broadcaster, monkeypatch):
    real_deliver = memorybroadcast.Subscriber.deliver

    def lose_event_2(subscriber, event):
        if event.id != 2:
            real_deliver(subscriber, event)

    monkeypatch.setattr(memorybroadcast.Subscriber, "deliver", lose_event_2)
    async with broadcaster.subscribe("board") as events:
        for n in range(1, 4):
            await broadcaster.publish("board", {"n": n})
        assert [event.id for event in await take(events, 3)] == [1, 2, 3]
        await nothing_more(events)


@pytest.mark.asyncio
async def test_cancelling_next_during_a_gap_fill_loses_nothing(
    broadcaster, monkeypatch
):
    """As a view does that waits with a timeout to send keep-alive comments."""
    real_deliver = memorybroadcast.Subscriber.deliver
    real_history = broadcaster._history
    slow = asyncio.Event()

    def lose_event_2(subscriber, event):
        if event.id != 2:
            real_deliver(subscriber, event)

    async def slow_history(channel, after):
        if slow.is_set():
            await asyncio.sleep(TIMEOUT)
        return await real_history(channel, after)

    monkeypatch.setattr(memorybroadcast.Subscriber, "deliver", lose_event_2)
    monkeypatch.setattr(broadcaster, "_history", slow_history)
    async with broadcaster.subscribe("board") as events:
        for n in range(1, 4):
            await broadcaster.publish("board", {"n": n})
        assert [event.id for event in await take(events, 1)] == [1]
        slow.set()
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(anext(events), 0.1)
        slow.clear()
        assert [event.id for event in await take(events, 2)] == [2, 3]


@pytest.mark.asyncio
async def test_gap_older_than_history_resyncs(make, monkeypatch):
    broadcaster = make(history=2)
    real_deliver = memorybroadcast.Subscriber.deliver

    def lose_event_2(subscriber, event):
        if event.id != 2:
            real_deliver(subscriber, event)

    monkeypatch.setattr(memorybroadcast.Subscriber, "deliver", lose_event_2)
    async with broadcaster.subscribe("board") as events:
        first = await broadcaster.publish("board", {})
        assert await take(events, 1) == [first]
        for _ in range(3):
            await broadcaster.publish("board", {})
        assert await rest(events) == [resync(4, "gap")]


@pytest.mark.asyncio
async def test_resume_older_than_history_resyncs(make):
    broadcaster = make(history=3)
    for _ in range(6):
        await broadcaster.publish("board", {})
    async with broadcaster.subscribe("board", last_event_id=1) as events:
        assert await rest(events) == [resync(6, "gap")]
    async with broadcaster.subscribe("board", last_event_id=3) as events:
        assert [event.id for event in await take(events, 3)] == [4, 5, 6]


@pytest.mark.asyncio
async def test_resume_from_unknown_id_resyncs(broadcaster):
    await broadcaster.publish("board", {})
    await broadcaster.publish("board", {})
    async with broadcaster.subscribe("board", last_event_id=10) as events:
        assert await rest(events) == [resync(2, "unknown-id")]
        assert await rest(events) == []


@pytest.mark.asyncio
async def test_two_subscribers_both_get_events(broadcaster, is_redis):
    async with (
        broadcaster.subscribe("board") as first,
        broadcaster.subscribe("board") as second,
    ):
        assert await broadcaster.subscriber_count("board") == 2
        if is_redis:  # One shared connection.
            assert await broadcaster.redis_subscriptions("board") == 1
        sent = [await broadcaster.publish("board", {"n": n}) for n in range(3)]
        assert await take(first, 3) == sent
        assert await take(second, 3) == sent
    assert await broadcaster.subscriber_count("board") == 0
    if is_redis:
        await wait_for_redis(broadcaster, "board", 0)


@pytest.mark.asyncio
async def test_cancelled_subscriber_leaves_nothing(broadcaster):
    listening = asyncio.Event()
    received = []

    async def listen():
        async with broadcaster.subscribe("board") as events:
            listening.set()
            async for event in events:
                received.append(event)

    task = asyncio.create_task(listen())
    async with asyncio.timeout(TIMEOUT):
        await listening.wait()
    assert await broadcaster.subscriber_count("board") == 1
    await broadcaster.publish("board", {})
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert [event.id for event in received] == [1]
    await wait_for_count(broadcaster, "board", 0)
    assert broadcaster._subscribers == {}
    assert other_tasks() == set()


@pytest.mark.asyncio
async def test_aclose_of_a_wrapping_generator_leaves_nothing(broadcaster):
    """What Django does when the browser of a streaming response goes away."""

    async def stream():
        async with broadcaster.subscribe("board") as events:
            async for event in events:
                yield event.sse()

    chunks = stream()
    first = asyncio.ensure_future(anext(chunks))
    await wait_for_count(broadcaster, "board", 1)
    await broadcaster.publish("board", {"up": True})
    async with asyncio.timeout(TIMEOUT):
        assert await first == 'id: 1\nevent: update\ndata: {"up":true}\n\n'
    await chunks.aclose()
    await wait_for_count(broadcaster, "board", 0)
    assert other_tasks() == set()


@pytest.mark.asyncio
async def test_leaving_the_block_early_leaves_nothing(broadcaster):
    async with broadcaster.subscribe("board") as events:
        await broadcaster.publish("board", {})
        await broadcaster.publish("board", {})
        async for _ in events:
            break
    await wait_for_count(broadcaster, "board", 0)
    assert other_tasks() == set()


@pytest.mark.asyncio
async def test_slow_subscriber_is_dropped_with_a_resync_marker(make, is_redis):
    broadcaster = make(queue_size=3)
    async with broadcaster.subscribe("board") as fast:
        async with broadcaster.subscribe("board") as slow:
            for n in range(1, 6):
                event = await broadcaster.publish("board", {"n": n})
                assert await take(fast, 1) == [event]  # Never waits for `slow`.
            assert await broadcaster.subscriber_count("board") == 1  # At once.
            assert await rest(slow) == [resync(4, "overflow")]
        assert await broadcaster.subscriber_count("board") == 1
        if is_redis:  # Still subscribed, for `fast`.
            assert await broadcaster.redis_subscriptions("board") == 1
        await broadcaster.publish("board", {"n": 6})
        assert [event.id for event in await take(fast, 1)] == [6]


@pytest.mark.asyncio
async def test_close_ends_subscriptions_and_refuses_more(broadcaster, is_redis):
    async with broadcaster.subscribe("board") as events:
        consumer = asyncio.create_task(rest(events))
        await broadcaster.publish("board", {})
        await asyncio.sleep(0.05)
        await broadcaster.close()
        assert [event.id for event in await consumer] == [1]
    assert broadcaster.closed
    await broadcaster.close()  # Again: nothing happens.
    with pytest.raises(RuntimeError, match="closed"):
        await broadcaster.publish("board", {})
    with pytest.raises(RuntimeError, match="closed"):
        async with broadcaster.subscribe("board"):
            pass  # pragma: no cover
    if is_redis:
        client = redis.asyncio.Redis.from_url(os.environ["REDIS_URL"])
        channel = broadcaster.pubsub_channel("board")
        assert await client.pubsub_numsub(channel) == [(channel.encode(), 0)]
        await client.aclose()
    assert other_tasks() == set()


@pytest.mark.asyncio
async def test_publish_sync_from_a_plain_thread(broadcaster, is_redis):
    """As under WSGI: async_to_sync runs a new event loop for the call."""
    async with broadcaster.subscribe("board") as events:
        sent = await asyncio.to_thread(broadcaster.publish_sync, "board", {"n": 1})
        assert await take(events, 1) == [sent]
    if is_redis:  # The call's own client went with its loop.
        assert list(broadcaster._clients) == [asyncio.get_running_loop()]


@pytest.mark.asyncio
async def test_publish_sync_from_sync_to_async(broadcaster):
    """As a sync view under ASGI: async_to_sync returns to the server's loop."""
    async with broadcaster.subscribe("board") as events:
        sent = await sync_to_async(broadcaster.publish_sync)("board", {"n": 1}, "check")
        assert await take(events, 1) == [sent]
    assert sent.kind == "check"


@pytest.mark.asyncio
async def test_failing_to_enter_leaves_nothing(broadcaster, monkeypatch):
    real_history = broadcaster._history

    async def failing_history(channel, after):
        if broadcaster._local_subscribers(channel):
            raise OSError("history unavailable")
        return await real_history(channel, after)

    monkeypatch.setattr(broadcaster, "_history", failing_history)
    with pytest.raises(OSError, match="unavailable"):
        async with broadcaster.subscribe("board"):
            pass  # pragma: no cover
    await wait_for_count(broadcaster, "board", 0)
    assert other_tasks() == set()


@pytest.mark.asyncio
async def test_subscriber_ends_once():
    subscriber = memorybroadcast.Subscriber("board", 10, lambda _: None)
    subscriber.end("first")
    subscriber.end("second")
    assert subscriber.queue.qsize() == 1


@pytest.mark.asyncio
async def test_subscription_misuse(broadcaster):
    subscription = broadcaster.subscribe("board")
    with pytest.raises(RuntimeError, match="async with"):
        await anext(subscription)
    async with subscription:
        with pytest.raises(RuntimeError, match="once"):
            await subscription.__aenter__()


def test_event_sse():
    event = Event(7, "board", {"service": "api", "status": "down"}, "check")
    assert event.sse() == (
        'id: 7\nevent: check\ndata: {"service":"api","status":"down"}\n\n'
    )


@pytest.mark.parametrize("options", [{"history": 0}, {"queue_size": 0}])
def test_bounds_must_be_positive(options):
    with pytest.raises(ValueError, match="at least 1"):
        InMemoryBroadcaster(**options)


# Subscribers on other event loops.


@pytest.mark.asyncio
async def test_memory_subscriber_on_a_closed_loop_is_dropped_by_publish():
    broadcaster = InMemoryBroadcaster()
    abandoned = await asyncio.to_thread(subscribe_and_abandon, broadcaster)
    assert len(broadcaster._subscribers["board"]) == 1
    await broadcaster.publish("board", {})
    assert broadcaster._subscribers == {}
    assert abandoned._subscriber.done


@pytest.mark.asyncio
async def test_subscriber_on_a_closed_loop_no_longer_counts(broadcaster, is_redis):
    abandoned = await asyncio.to_thread(subscribe_and_abandon, broadcaster)
    assert await broadcaster.subscriber_count("board") == 0
    assert broadcaster._subscribers == {}
    assert abandoned._subscriber.done
    if is_redis:  # The reader task was cancelled: it closed the connection.
        await wait_for_redis(broadcaster, "board", 0)
    async with broadcaster.subscribe("board") as events:
        if is_redis:  # The closed loop's entry is gone.
            assert list(broadcaster._feeds) == [(asyncio.get_running_loop(), "board")]
        sent = await broadcaster.publish("board", {})
        assert await take(events, 1) == [sent]


@pytest.mark.asyncio
async def test_asyncio_run_leaves_an_abandoned_block(broadcaster, is_redis):
    """At its end, asyncio.run finalizes the broadcaster's ``_listening`` block."""

    async def subscribe_and_abandon():
        await broadcaster.subscribe("board").__aenter__()

    await asyncio.to_thread(asyncio.run, subscribe_and_abandon())
    assert broadcaster._subscribers == {}
    if is_redis:
        assert broadcaster._feeds == {}
        await wait_for_redis(broadcaster, "board", 0)


@pytest.mark.asyncio
async def test_close_reaches_subscribers_on_other_loops(broadcaster, is_redis):
    listening = threading.Event()
    received = threading.Event()
    results = []

    async def listen():
        async with broadcaster.subscribe("board") as events:
            listening.set()
            async for event in events:
                results.append(event)
                received.set()

    thread = threading.Thread(target=asyncio.run, args=(listen(),))
    thread.start()
    async with broadcaster.subscribe("board") as here:
        assert await asyncio.to_thread(listening.wait, TIMEOUT)
        assert await broadcaster.subscriber_count("board") == 2
        if is_redis:  # One connection per event loop.
            assert await broadcaster.redis_subscriptions("board") == 2
        sent = await broadcaster.publish("board", {})
        assert await asyncio.to_thread(received.wait, TIMEOUT)
        await broadcaster.close()
        assert await rest(here) == [sent]
    await asyncio.to_thread(thread.join, TIMEOUT)
    assert not thread.is_alive()
    assert results == [sent]
    if is_redis:
        client = redis.asyncio.Redis.from_url(os.environ["REDIS_URL"])
        channel = broadcaster.pubsub_channel("board")

        async def released():
            return await client.pubsub_numsub(channel) == [(channel.encode(), 0)]

        await eventually(released)
        await client.aclose()


# Redis only.


@redis_test
async def test_redis_history_is_capped_and_atomic(make):
    broadcaster = make(history=3)
    for _ in range(5):
        await broadcaster.publish("board", {})
    client = redis.asyncio.Redis.from_url(os.environ["REDIS_URL"])
    id_key, history_key = broadcaster.keys("board")
    assert await client.get(id_key) == b"5"
    scores = await client.zrange(history_key, 0, -1, withscores=True)
    assert [score for _, score in scores] == [3.0, 4.0, 5.0]
    assert scores[0][0] == b'{"id":3,"kind":"update","data":{}}'
    await client.aclose()


@redis_test
async def test_redis_ignores_foreign_messages(make):
    broadcaster = make()
    client = redis.asyncio.Redis.from_url(os.environ["REDIS_URL"])
    async with broadcaster.subscribe("board") as events:
        await client.publish(broadcaster.pubsub_channel("board"), "not json")
        await client.publish(broadcaster.pubsub_channel("board"), '{"id": 1}')
        await events._subscriber.feed.pubsub.ping()  # As redis-py's health checks do.
        sent = await broadcaster.publish("board", {})
        assert await take(events, 1) == [sent]
    await client.aclose()


@redis_test
async def test_redis_lost_connection_ends_every_local_subscriber(make):
    broadcaster = make()
    async with contextlib.AsyncExitStack() as stack:
        subscriptions = [
            await stack.enter_async_context(broadcaster.subscribe("board"))
            for _ in range(3)
        ]
        await broadcaster.publish("board", {})
        for events in subscriptions:
            await take(events, 1)
        feed = subscriptions[0]._subscriber.feed
        assert {events._subscriber.feed for events in subscriptions} == {feed}

        async def gone(**_):
            raise redis.ConnectionError("gone")

        feed.pubsub.get_message = gone  # For the reader's next read.
        second = await broadcaster.publish("board", {})
        for events in subscriptions:
            assert await rest(events) == [second, resync(2, "disconnected")]
        assert await broadcaster.subscriber_count("board") == 0
        # The lost subscription released its connection; a new subscriber
        # opens a new one, while the others are still in their blocks.
        await wait_for_redis(broadcaster, "board", 0)
        async with broadcaster.subscribe("board", last_event_id=1) as events:
            assert events._subscriber.feed is not feed
            assert await broadcaster.redis_subscriptions("board") == 1
            third = await broadcaster.publish("board", {})
            assert await take(events, 2) == [second, third]
    await wait_for_redis(broadcaster, "board", 0)
    assert broadcaster._feeds == {}
    assert other_tasks() == set()


@redis_test
async def test_redis_subscribe_timeout_releases_the_connection(make):
    broadcaster = make(subscribe_timeout=0)

    async def enter():
        async with broadcaster.subscribe("board"):
            pass  # pragma: no cover

    # Both wait for the same subscription, and both get its error.
    results = await asyncio.gather(enter(), enter(), return_exceptions=True)
    assert [type(result) for result in results] == [TimeoutError, TimeoutError]
    assert await broadcaster.subscriber_count("board") == 0
    assert broadcaster._feeds == {}
    assert other_tasks() == set()
    await wait_for_redis(broadcaster, "board", 0)


@redis_test
async def test_redis_clients_of_closed_loops_are_pruned(make):
    broadcaster = make()
    await broadcaster.publish("board", {})

    async def publish_elsewhere():
        await broadcaster.publish("board", {})
        # Close its connections (a real program would have called close()),
        # but leave the entry: the next use on another loop prunes it.
        await broadcaster._clients[asyncio.get_running_loop()].aclose()

    await asyncio.to_thread(asyncio.run, publish_elsewhere())
    assert len(broadcaster._clients) == 2
    assert (await broadcaster.publish("board", {})).id == 3
    assert list(broadcaster._clients) == [asyncio.get_running_loop()]


@redis_test
async def test_redis_local_subscribers_share_one_connection(make):
    """Hundreds of subscribers, one pub/sub connection, a small command pool."""
    broadcaster = make(max_connections=4)
    count = 500
    entered = asyncio.Semaphore(0)
    go = asyncio.Event()

    async def listen():
        async with broadcaster.subscribe("board") as events:
            entered.release()
            await go.wait()
            return await take(events, 1)

    tasks = [asyncio.create_task(listen()) for _ in range(count)]
    async with asyncio.timeout(TIMEOUT * 4):
        for _ in range(count):
            await entered.acquire()
    assert await broadcaster.subscriber_count("board") == count
    assert await broadcaster.redis_subscriptions("board") == 1
    assert len(broadcaster._feeds) == 1
    sent = await broadcaster.publish("board", {"slug": "all"}, kind="check")
    go.set()
    async with asyncio.timeout(TIMEOUT * 4):
        received = await asyncio.gather(*tasks)
    assert received == [[sent]] * count
    assert await broadcaster.subscriber_count("board") == 0
    await wait_for_redis(broadcaster, "board", 0)
    assert broadcaster._feeds == {}
    assert other_tasks() == set()
    # The next subscriber opens a new one.
    async with broadcaster.subscribe("board", last_event_id=0) as events:
        assert await broadcaster.redis_subscriptions("board") == 1
        assert await take(events, 1) == [sent]


@pytest.mark.asyncio
async def test_joining_while_others_are_live_resumes(broadcaster, is_redis):
    """A subscriber joins a busy (Redis: shared) subscription mid-stream."""

    async def publisher():
        for n in range(1, 41):
            await broadcaster.publish("board", {"n": n})
            await asyncio.sleep(0)

    async with broadcaster.subscribe("board") as first:
        task = asyncio.create_task(publisher())
        assert [event.id for event in await take(first, 10)] == list(range(1, 11))
        async with broadcaster.subscribe("board", last_event_id=5) as second:
            if is_redis:
                assert first._subscriber.feed is second._subscriber.feed
                assert await broadcaster.redis_subscriptions("board") == 1
            assert [e.id for e in await take(second, 35)] == list(range(6, 41))
            await nothing_more(second)
        await task
        assert [e.id for e in await take(first, 30)] == list(range(11, 41))
        await nothing_more(first)


@pytest.mark.asyncio
async def test_a_second_cancellation_while_leaving_leaves_nothing(
    broadcaster, is_redis
):
    listening = asyncio.Event()

    async def listen():
        async with broadcaster.subscribe("board") as events:
            listening.set()
            async for _ in events:
                pass  # pragma: no cover

    task = asyncio.create_task(listen())
    async with asyncio.timeout(TIMEOUT):
        await listening.wait()
    task.cancel()
    await asyncio.sleep(0)  # Now leaving: with Redis, closing the connection.
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await broadcaster.subscriber_count("board") == 0

    async def no_other_tasks():  # The connection closes in the background.
        return other_tasks() == set()

    await eventually(no_other_tasks)
    if is_redis:
        await wait_for_redis(broadcaster, "board", 0)
        assert broadcaster._feeds == {}


@pytest.fixture
def gated_subscribe(monkeypatch):
    """Hold RedisBroadcaster._subscribe until the returned event is set."""
    gate = asyncio.Event()
    real_subscribe = RedisBroadcaster._subscribe
    calls = []

    async def subscribe(self, feed):
        calls.append(feed)
        await gate.wait()
        await real_subscribe(self, feed)

    async def called():
        return bool(calls)

    monkeypatch.setattr(RedisBroadcaster, "_subscribe", subscribe)
    gate.calls, gate.called = calls, called
    return gate


@redis_test
async def test_redis_pending_subscribers_wait_for_one_confirmation(
    make, gated_subscribe
):
    broadcaster = make()
    entered = []

    async def enter(name):
        async with broadcaster.subscribe("board") as events:
            entered.append(name)
            return await take(events, 1)

    first = asyncio.create_task(enter("first"))
    second = asyncio.create_task(enter("second"))
    await eventually(gated_subscribe.called)
    assert await broadcaster.subscriber_count("board") == 2
    assert len(gated_subscribe.calls) == 1  # One feed for both.
    first.cancel()  # While it waits for the confirmation: the feed stays.
    with pytest.raises(asyncio.CancelledError):
        await first
    assert await broadcaster.subscriber_count("board") == 1
    assert entered == []
    gated_subscribe.set()

    async def second_entered():
        return entered == ["second"]

    await eventually(second_entered)
    assert await broadcaster.redis_subscriptions("board") == 1
    sent = await broadcaster.publish("board", {})
    async with asyncio.timeout(TIMEOUT):
        assert await second == [sent]
    assert entered == ["second"]
    await wait_for_redis(broadcaster, "board", 0)
    assert other_tasks() == set()


@redis_test
async def test_redis_cancelling_every_pending_subscriber_leaves_nothing(
    make, gated_subscribe
):
    broadcaster = make()

    async def enter():
        async with broadcaster.subscribe("board"):
            pass  # pragma: no cover

    tasks = [asyncio.create_task(enter()) for _ in range(2)]
    await eventually(gated_subscribe.called)
    feed = gated_subscribe.calls[0]
    for task in tasks:
        task.cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert [type(result) for result in results] == [asyncio.CancelledError] * 2
    assert feed.task.done()
    assert broadcaster._feeds == {}
    assert await broadcaster.subscriber_count("board") == 0
    assert other_tasks() == set()
    gated_subscribe.set()
    async with broadcaster.subscribe("board") as events:  # A new feed works.
        assert events._subscriber.feed is not feed
        sent = await broadcaster.publish("board", {})
        assert await take(events, 1) == [sent]


@redis_test
async def test_redis_close_while_subscribing(make, gated_subscribe):
    broadcaster = make()

    async def enter():
        async with broadcaster.subscribe("board"):
            pass  # pragma: no cover

    task = asyncio.create_task(enter())
    await eventually(gated_subscribe.called)
    await broadcaster.close()
    with pytest.raises(RuntimeError, match="closed"):
        await task
    assert broadcaster._subscribers == {}
    assert other_tasks() == set()


@redis_test
async def test_redis_close_skips_feeds_of_closed_loops(make):
    """close() cannot reach a loop that has gone: nothing is left to do there."""
    broadcaster = make()
    abandoned = await asyncio.to_thread(subscribe_and_abandon, broadcaster)
    assert len(broadcaster._feeds) == 1
    await broadcaster.close()
    assert broadcaster._feeds == {}
    assert abandoned._subscriber.feed.abandoned is False  # Its loop was gone.


@redis_test
async def test_redis_connection_pools(make):
    broadcaster = make()
    pool = broadcaster._client().connection_pool
    assert isinstance(pool, redis.asyncio.BlockingConnectionPool)
    assert pool.max_connections == redisbroadcast.DEFAULT_MAX_CONNECTIONS
    async with broadcaster.subscribe("board") as events:
        assert events._subscriber.feed.pubsub.connection_pool is not pool
    assert make(max_connections=3)._client().connection_pool.max_connections == 3
    with pytest.raises(ValueError, match="max_connections"):
        make(max_connections=0)


# The process-wide instance.


@pytest.fixture
def singleton():
    reset_broadcaster()
    yield
    reset_broadcaster()


def test_get_broadcaster_uses_the_setting(settings, monkeypatch, singleton):
    monkeypatch.delenv("REDIS_URL", raising=False)
    settings.BOARD_REDIS_URL = "redis://redis.invalid:6379/1"
    settings.BOARD_REDIS_PREFIX = "custom:"
    first = get_broadcaster()
    assert isinstance(first, RedisBroadcaster)
    assert (first.url, first.prefix) == ("redis://redis.invalid:6379/1", "custom:")
    assert get_broadcaster() is first
    reset_broadcaster()
    assert first.closed
    assert get_broadcaster() is not first


def test_empty_setting_forces_in_memory(settings, monkeypatch, singleton):
    monkeypatch.setenv("REDIS_URL", "redis://redis.invalid:6379/0")
    settings.BOARD_REDIS_URL = ""
    assert isinstance(get_broadcaster(), InMemoryBroadcaster)


def test_environment_when_no_setting(settings, monkeypatch, singleton):
    del settings.BOARD_REDIS_URL
    monkeypatch.setenv("REDIS_URL", "redis://redis.invalid:6379/0")
    broadcaster = get_broadcaster()
    assert isinstance(broadcaster, RedisBroadcaster)
    assert broadcaster.prefix == redisbroadcast.DEFAULT_REDIS_PREFIX
    reset_broadcaster()
    monkeypatch.delenv("REDIS_URL")
    assert isinstance(get_broadcaster(), InMemoryBroadcaster)


def test_module_publish_sync(settings, singleton):
    settings.BOARD_REDIS_URL = ""
    assert publish_sync("board", {"n": 1}) == Event(1, "board", {"n": 1})
    assert publish_sync("board", {"n": 2}, kind="check").id == 2
    assert get_broadcaster()._retained.after("board", 1)[1][-1].kind == "check"


@pytest.mark.asyncio
async def test_reset_inside_an_event_loop_closes_soon(settings, singleton):
    settings.BOARD_REDIS_URL = ""
    old = get_broadcaster()
    reset_broadcaster()
    assert not old.closed
    async with asyncio.timeout(TIMEOUT):
        await asyncio.gather(*broadcast._closing)
    assert old.closed
    assert get_broadcaster() is not old
