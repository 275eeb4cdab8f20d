"""Tests for sampleproject/board/broadcast.py, on both implementations.

The ``make`` fixture builds broadcasters of one kind per run: in-memory, and
Redis when ``REDIS_URL`` is set. Redis runs get a key prefix of their own,
deleted afterwards. Every wait has a timeout, so a bug fails instead of hanging.
"""

import asyncio
import os
import threading
import uuid

import pytest
import pytest_asyncio
import redis
import redis.asyncio
from asgiref.sync import sync_to_async

from sampleproject.board import broadcast
from sampleproject.board.broadcast import (
    RESYNC,
    Event,
    InMemoryBroadcaster,
    RedisBroadcaster,
    get_broadcaster,
    publish_sync,
    reset_broadcaster,
)

TIMEOUT = 5
redis_only = pytest.mark.needs_service("redis")


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


async def wait_for_count(broadcaster, channel, expected):
    """Poll: with Redis the server notices a closed connection a little later."""
    async with asyncio.timeout(TIMEOUT):
        while True:
            if await broadcaster.subscriber_count(channel) == expected:
                return
            await asyncio.sleep(0.01)


def other_tasks():
    return asyncio.all_tasks() - {asyncio.current_task()}


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
async def test_publish_between_listening_and_reading_history(
    broadcaster, monkeypatch, last_event_id
):
    """An event both in the live queue and in the history arrives once."""
    await broadcaster.publish("board", {"n": 1})
    await broadcaster.publish("board", {"n": 2})
    real_history = broadcaster._history
    raced = []

    async def racing_history(channel, after):
        if not raced and broadcaster._local_subscribers(channel):
            raced.append(await broadcaster.publish(channel, {"n": "racer"}))
        return await real_history(channel, after)

    monkeypatch.setattr(broadcaster, "_history", racing_history)
    async with broadcaster.subscribe("board", last_event_id) as events:
        await broadcaster.publish("board", {"n": 4})
        expected = list(range((last_event_id or 2) + 1, 5))
        received = await take(events, len(expected))
        await nothing_more(events)
    assert raced[0].id == 3
    assert [event.id for event in received] == expected


@pytest.mark.asyncio
async def test_gap_in_live_stream_is_filled_from_history(broadcaster, monkeypatch):
    real_deliver = broadcast._Subscriber.deliver

    def lose_event_2(subscriber, event):
        if event.id != 2:
            real_deliver(subscriber, event)

    monkeypatch.setattr(broadcast._Subscriber, "deliver", lose_event_2)
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
    real_deliver = broadcast._Subscriber.deliver
    real_history = broadcaster._history
    slow = asyncio.Event()

    def lose_event_2(subscriber, event):
        if event.id != 2:
            real_deliver(subscriber, event)

    async def slow_history(channel, after):
        if slow.is_set():
            await asyncio.sleep(TIMEOUT)
        return await real_history(channel, after)

    monkeypatch.setattr(broadcast._Subscriber, "deliver", lose_event_2)
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
    real_deliver = broadcast._Subscriber.deliver

    def lose_event_2(subscriber, event):
        if event.id != 2:
            real_deliver(subscriber, event)

    monkeypatch.setattr(broadcast._Subscriber, "deliver", lose_event_2)
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
async def test_two_subscribers_both_get_events(broadcaster):
    async with (
        broadcaster.subscribe("board") as first,
        broadcaster.subscribe("board") as second,
    ):
        assert await broadcaster.subscriber_count("board") == 2
        sent = [await broadcaster.publish("board", {"n": n}) for n in range(3)]
        assert await take(first, 3) == sent
        assert await take(second, 3) == sent
    await wait_for_count(broadcaster, "board", 0)


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
            if not is_redis:  # Dropped at once; Redis counts its connection.
                assert await broadcaster.subscriber_count("board") == 1
            assert await rest(slow) == [resync(4, "overflow")]
        await wait_for_count(broadcaster, "board", 1)
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
    subscriber = broadcast._Subscriber("board", 10, lambda _: None)
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


# In-memory only: subscribers on other event loops.


@pytest.mark.asyncio
async def test_memory_subscriber_on_a_closed_loop_is_dropped():
    broadcaster = InMemoryBroadcaster()

    async def subscribe_and_abandon():
        await broadcaster.subscribe("board").__aenter__()

    await asyncio.to_thread(asyncio.run, subscribe_and_abandon())
    assert await broadcaster.subscriber_count("board") == 1
    await broadcaster.publish("board", {})
    assert await broadcaster.subscriber_count("board") == 0


@pytest.mark.asyncio
async def test_memory_close_reaches_subscribers_on_other_loops():
    broadcaster = InMemoryBroadcaster()
    listening = threading.Event()
    results = []

    async def listen():
        async with broadcaster.subscribe("board") as events:
            listening.set()
            results.extend(await rest(events))

    thread = threading.Thread(target=asyncio.run, args=(listen(),))
    thread.start()
    await asyncio.to_thread(listening.wait, TIMEOUT)
    await broadcaster.publish("board", {})
    await broadcaster.close()
    await asyncio.to_thread(thread.join, TIMEOUT)
    assert not thread.is_alive()
    assert [event.id for event in results] == [1]


# Redis only.


@redis_only
@pytest.mark.parametrize("make", ["redis"], indirect=True)
@pytest.mark.asyncio
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


@redis_only
@pytest.mark.parametrize("make", ["redis"], indirect=True)
@pytest.mark.asyncio
async def test_redis_ignores_foreign_messages(make):
    broadcaster = make()
    client = redis.asyncio.Redis.from_url(os.environ["REDIS_URL"])
    async with broadcaster.subscribe("board") as events:
        await client.publish(broadcaster.pubsub_channel("board"), "not json")
        await client.publish(broadcaster.pubsub_channel("board"), '{"id": 1}')
        await events._subscriber.pubsub.ping()  # As redis-py's health checks do.
        sent = await broadcaster.publish("board", {})
        assert await take(events, 1) == [sent]
    await client.aclose()


@redis_only
@pytest.mark.parametrize("make", ["redis"], indirect=True)
@pytest.mark.asyncio
async def test_redis_lost_connection_resyncs(make):
    broadcaster = make()
    async with broadcaster.subscribe("board") as events:
        await broadcaster.publish("board", {})
        await take(events, 1)

        async def gone(**_):
            raise redis.ConnectionError("gone")

        events._subscriber.pubsub.get_message = gone  # For the reader's next read.
        second = await broadcaster.publish("board", {})
        assert await rest(events) == [second, resync(2, "disconnected")]
    await wait_for_count(broadcaster, "board", 0)


@redis_only
@pytest.mark.parametrize("make", ["redis"], indirect=True)
@pytest.mark.asyncio
async def test_redis_subscribe_timeout_releases_the_connection(make):
    broadcaster = make(subscribe_timeout=0)
    with pytest.raises(TimeoutError):
        async with broadcaster.subscribe("board"):
            pass  # pragma: no cover
    await wait_for_count(broadcaster, "board", 0)


@redis_only
@pytest.mark.parametrize("make", ["redis"], indirect=True)
@pytest.mark.asyncio
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
    assert broadcaster.prefix == broadcast.DEFAULT_REDIS_PREFIX
    reset_broadcaster()
    monkeypatch.delenv("REDIS_URL")
    assert isinstance(get_broadcaster(), InMemoryBroadcaster)


def test_module_publish_sync(settings, singleton):
    settings.BOARD_REDIS_URL = ""
    assert publish_sync("board", {"n": 1}) == Event(1, "board", {"n": 1})
    assert publish_sync("board", {"n": 2}, kind="check").id == 2
    assert get_broadcaster()._retained["board"][-1].kind == "check"


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
