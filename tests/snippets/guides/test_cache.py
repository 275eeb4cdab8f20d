"""Tests of snippets/guides/cache.py, shown on docs/guides/cache.md.

Each built-in backend is tried through ``caches`` built from a settings dict:
local memory, the database (a cache table in the test database), files (a
temporary directory) and, with ``REDIS_URL`` set, Redis.
"""

import inspect
import json
import os
import threading
from urllib.parse import urlsplit

import django
import pytest
from asgiref.sync import sync_to_async
from django.core.cache import cache, caches
from django.core.cache.backends.base import BaseCache
from django.core.exceptions import SynchronousOnlyOperation
from django.core.management import call_command
from django.test import AsyncClient, Client, override_settings

from sampleproject.board.demo import seed
from snippets.guides import cache as snippet
from snippets.guides.cache import COUNTS_KEY, aget_or_compute, native_counts
from snippets.internals.hops import count_hops

pytestmark = [
    pytest.mark.urls("snippets.guides.cache"),
    pytest.mark.django_db(transaction=True),
]

# A database of its own: other tests flush the one REDIS_URL names.
REDIS_URL = urlsplit(os.environ.get("REDIS_URL", ""))._replace(path="/13").geturl()
BACKENDS = {
    "locmem": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "db": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "guide_cache",
    },
    "file": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache"},
    "redis": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
    },
}
NEEDS_REDIS = {"redis": [pytest.mark.needs_service("redis")]}


def backend_params():
    return [
        pytest.param(name, marks=NEEDS_REDIS.get(name, []), id=name)
        for name in BACKENDS
    ]


@pytest.fixture(params=backend_params())
def backend(request, tmp_path):
    """The default cache replaced by one built-in backend, emptied."""
    config = dict(BACKENDS[request.param])
    if request.param == "file":
        config["LOCATION"] = str(tmp_path)
    with override_settings(CACHES={"default": config}):
        if request.param == "db":
            call_command("createcachetable", verbosity=0)
        cache.clear()
        yield request.param
        cache.clear()
        cache.close()


@pytest.fixture
def services():
    return seed()


@pytest.fixture
def empty_cache():
    """Local memory: what BaseCache does, whichever backend the settings name."""
    with override_settings(CACHES={"default": BACKENDS["locmem"]}):
        cache.clear()
        yield cache


@pytest.mark.asyncio
async def test_the_async_view_computes_once_then_serves_from_the_cache(
    backend, services, monkeypatch
):
    calls, original = [], snippet.board_counts

    async def counting():
        calls.append(1)
        return await original()

    monkeypatch.setattr(snippet, "board_counts", counting)
    first = await AsyncClient().get("/counts/")
    second = await AsyncClient().get("/counts/")
    assert first.status_code == second.status_code == 200
    assert (
        first.json()
        == second.json()
        == {"services": len(services), "open_incidents": 0}
    )
    assert calls == [1]


def test_the_sync_view_computes_once_under_wsgi(backend, services, monkeypatch):
    calls, original = [], snippet.board_counts_sync

    def counting():
        calls.append(1)
        return original()

    monkeypatch.setattr(snippet, "board_counts_sync", counting)
    first, second = Client().get("/counts-sync/"), Client().get("/counts-sync/")
    assert (
        first.json()
        == second.json()
        == {"services": len(services), "open_incidents": 0}
    )
    assert calls == [1]


@pytest.mark.asyncio
async def test_each_a_method_is_one_thread_sensitive_hop(backend):
    thread = []
    backend_class = type(caches["default"])
    original = backend_class.get

    def recording(self, *args, **kwargs):
        thread.append(threading.get_ident())
        return original(self, *args, **kwargs)

    backend_class.get = recording
    try:
        with count_hops() as hops:
            await cache.aset("service:search", "up")
            assert await cache.aget("service:search") == "up"
    finally:
        backend_class.get = original
    assert hops["sync_to_async"] == hops["thread_sensitive"] == 2
    assert thread != [threading.get_ident()]


@pytest.mark.asyncio
async def test_aget_or_set_is_three_hops_on_a_miss_and_one_on_a_hit(empty_cache):
    with count_hops() as miss:
        await cache.aget_or_set("service:search", "up")
    with count_hops() as hit:
        await cache.aget_or_set("service:search", "down")
    assert (miss["sync_to_async"], hit["sync_to_async"]) == (3, 1)


@pytest.mark.asyncio
async def test_aget_or_set_calls_its_default_on_the_event_loop(empty_cache):
    threads = []

    def default():
        threads.append(threading.get_ident())
        return "up"

    await cache.aget_or_set("service:search", default)
    assert threads == [threading.get_ident()]


@pytest.mark.asyncio
async def test_an_async_default_is_pickled_as_a_coroutine(empty_cache):
    made = []

    def board_counts():
        # What aget_or_set() does with an async function: calls it, once.
        made.append(snippet.board_counts())
        return made[-1]

    with pytest.raises(TypeError, match="cannot pickle 'coroutine' object"):
        await cache.aget_or_set(COUNTS_KEY, board_counts)
    assert inspect.iscoroutine(made[0])
    # Never awaited: closing it spares the test Python's RuntimeWarning.
    made[0].close()
    assert await cache.aget(COUNTS_KEY) is None


@pytest.mark.asyncio
async def test_a_sync_default_that_queries_fails_on_the_loop(empty_cache, services):
    with pytest.raises(SynchronousOnlyOperation):
        await cache.aget_or_set(COUNTS_KEY, snippet.board_counts_sync)


@pytest.mark.asyncio
async def test_aget_or_compute_awaits_compute_only_on_a_miss(empty_cache):
    calls = []

    async def compute():
        calls.append(1)
        return None  # a cached None is still a hit next time

    assert await aget_or_compute("board:open", compute, 10) is None
    assert await aget_or_compute("board:open", compute, 10) is None
    assert calls == [1]


@pytest.mark.asyncio
async def test_a_sync_call_to_the_database_cache_fails_in_async_code():
    config = {"default": BACKENDS["db"]}
    with override_settings(CACHES=config):
        await sync_to_async(call_command)("createcachetable", verbosity=0)
        with pytest.raises(SynchronousOnlyOperation):
            cache.get("service:search")


@pytest.mark.asyncio
async def test_a_sync_call_to_local_memory_makes_no_hop():
    with (
        override_settings(CACHES={"default": BACKENDS["locmem"]}),
        count_hops() as hops,
    ):
        cache.set("service:search", "up")
        assert cache.get("service:search") == "up"
    assert hops["sync_to_async"] == 0


@pytest.mark.parametrize("backend", ["db"], indirect=True)
@pytest.mark.asyncio
async def test_aget_many_hops_once_per_key_on_5_2_and_once_on_6_1(backend):
    await cache.aset_many({"a": 1, "b": 2, "c": 3})
    with count_hops() as hops:
        assert await cache.aget_many(["a", "b", "c"]) == {"a": 1, "b": 2, "c": 3}
    expected = 1 if django.VERSION >= (6, 1) else 3
    assert hops["sync_to_async"] == expected
    assert type(caches["default"]).get_many is not BaseCache.get_many


@pytest.mark.needs_service("redis")
@pytest.mark.asyncio
async def test_the_native_client_makes_no_hop_and_stores_json(services):
    import redis.asyncio

    client = redis.asyncio.Redis.from_url(REDIS_URL)
    try:
        await client.delete(COUNTS_KEY)
        with count_hops() as hops:
            first = await native_counts(client)
        assert await native_counts(client) == first
        assert first == {"services": len(services), "open_incidents": 0}
        assert await client.get(COUNTS_KEY) == json.dumps(first).encode()
        # Two queries on the miss (acount), nothing for Redis.
        assert hops["sync_to_async"] == 2
        assert 0 < await client.ttl(COUNTS_KEY) <= snippet.COUNTS_SECONDS
    finally:
        await client.delete(COUNTS_KEY)
        await client.aclose()
