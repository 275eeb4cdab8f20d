"""Tests for sampleproject/board/asyncattr.py: ``obj.a.name(...)`` and its rules."""

import asyncio
import threading

import pytest
from asgiref.sync import sync_to_async
from django.core.cache import cache

from sampleproject.board.asyncattr import AsyncNamespace, AsyncProxy, async_namespace
from sampleproject.board.models import Service


class Thermometer:
    """Sync methods, one with a native async twin, and attributes of each kind."""

    a = AsyncNamespace()
    unit = "celsius"

    def __init__(self):
        self.threads = []

    def read(self, offset=0, *, scale=1):
        self.threads.append(threading.get_ident())
        return 21 * scale + offset

    def calibrate(self):
        return "sync calibrate"

    async def acalibrate(self):
        return "native acalibrate"

    def reset(self):
        return "sync reset"

    def areset(self):
        # Named like an async twin, but sync: it must not be used.
        return "impostor"

    async def fetch(self):
        return "already async"

    def fail(self):
        raise ValueError("sensor unplugged")


class Beeper:
    async def __call__(self, times):
        return "beep" * times


@pytest.mark.asyncio
async def test_a_sync_method_runs_in_the_thread_sensitive_thread():
    thermometer = Thermometer()

    assert await thermometer.a.read(1, scale=2) == 43
    assert await thermometer.a.read() == 21
    # Both calls ran where Django runs thread-sensitive code (the ORM), not on
    # the event loop's thread.
    django_thread = await sync_to_async(threading.get_ident)()
    assert thermometer.threads == [django_thread, django_thread]
    assert django_thread != threading.get_ident()


@pytest.mark.asyncio
async def test_a_native_async_twin_wins():
    thermometer = Thermometer()

    assert thermometer.a.calibrate == thermometer.acalibrate
    assert await thermometer.a.calibrate() == "native acalibrate"


@pytest.mark.asyncio
async def test_a_sync_twin_is_ignored():
    assert await Thermometer().a.reset() == "sync reset"


@pytest.mark.asyncio
async def test_an_async_method_is_returned_as_it_is():
    thermometer = Thermometer()
    thermometer.beep = Beeper()

    assert thermometer.a.fetch == thermometer.fetch
    assert await thermometer.a.fetch() == "already async"
    assert thermometer.a.beep is thermometer.beep
    assert await thermometer.a.beep(2) == "beepbeep"


@pytest.mark.asyncio
async def test_exceptions_reach_the_awaiting_code():
    with pytest.raises(ValueError, match="sensor unplugged"):
        await Thermometer().a.fail()


def test_on_the_class_it_is_the_descriptor():
    assert isinstance(Thermometer.a, AsyncNamespace)
    assert repr(Thermometer.a) == "<AsyncNamespace 'a' thread_sensitive=True>"


def test_unknown_names_raise_attribute_error():
    with pytest.raises(
        AttributeError,
        match=r"'Thermometer' object has no attribute 'write' \(nor 'awrite'\)",
    ):
        Thermometer().a.write  # noqa: B018


def test_private_protocol_names_are_not_proxied():
    with pytest.raises(AttributeError, match="has no attribute '__wrapped__'"):
        Thermometer().a.__wrapped__  # noqa: B018
    assert not hasattr(Thermometer().a, "__deepcopy__")


def test_non_callables_raise_type_error():
    with pytest.raises(
        TypeError, match=r"Thermometer\.unit is not callable \(it is a str\)"
    ):
        Thermometer().a.unit  # noqa: B018


def test_nothing_is_stored_on_the_object():
    thermometer = Thermometer()

    assert thermometer.a is not thermometer.a
    assert "a" not in vars(thermometer)
    assert repr(thermometer.a).startswith("<async namespace of <")


def test_one_proxy_serves_several_event_loops_and_threads():
    thermometer = Thermometer()
    proxy = thermometer.a
    results = [asyncio.run(proxy.read(1)), asyncio.run(proxy.read(2))]
    worker = threading.Thread(target=lambda: results.append(asyncio.run(proxy.read(3))))
    worker.start()
    worker.join(10)

    assert results == [22, 23, 24]


@pytest.mark.asyncio
async def test_thread_sensitive_can_be_turned_off():
    class Hasher:
        a = AsyncNamespace(thread_sensitive=False)

        def digest(self):
            return threading.get_ident()

    django_thread = await sync_to_async(threading.get_ident)()
    pool_thread = await Hasher().a.digest()

    assert pool_thread not in (django_thread, threading.get_ident())
    assert "thread_sensitive=False" in repr(Hasher.a)


@pytest.mark.asyncio
async def test_async_namespace_on_an_object_you_do_not_own():
    proxy = async_namespace(cache)

    assert isinstance(proxy, AsyncProxy)
    assert proxy.get.__name__ == "aget"  # Django's own async method
    await proxy.set("asyncattr:test", 42)
    assert await proxy.get("asyncattr:test") == 42
    await proxy.delete("asyncattr:test")


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_on_a_model_instance_and_a_manager():
    service = Service(name="Search", slug="search", url="https://search.example/")

    # full_clean has no async twin: it runs in a thread; save uses asave.
    await async_namespace(service).full_clean()
    await async_namespace(service).save()

    assert await async_namespace(Service.objects).count() == 1


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_managers_native_method_is_found_through_its_wrapper():
    # Service.objects.acount is a plain function returning QuerySet.acount()'s
    # coroutine; the namespace must use it rather than wrap the sync count().
    count = async_namespace(Service.objects).count
    assert count.__wrapped__ == Service.objects.acount
    assert await count() == 0
