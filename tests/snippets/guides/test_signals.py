"""Tests of snippets/guides/signals.py, shown on docs/guides/signals.md."""

import contextlib
import contextvars
import logging
import threading

import django
import pytest
from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import connections
from django.dispatch import dispatcher
from django.http import JsonResponse
from django.test import AsyncClient
from django.urls import path

from sampleproject.board.demo import seed
from sampleproject.board.models import Service
from snippets.guides.signals import (
    announce,
    announce_outside_a_request,
    announce_robust,
    announce_sync,
    checks_on_record,
    log_retirement,
    open_incidents,
    service_retired,
)
from snippets.internals.request_journey import ASGIConnection, serve_wsgi, wsgi_environ

DJANGO_6_1 = django.VERSION >= (6, 1)

pytestmark = pytest.mark.django_db(transaction=True)

RECEIVERS = [log_retirement, open_incidents, checks_on_record]


async def announce_view(request, slug):
    service = await Service.objects.aget(slug=slug)
    return JsonResponse({"receivers": len(await announce(service))})


def ok_view(request):
    return JsonResponse({})


async def async_ok_view(request):
    return JsonResponse({})


urlpatterns = [
    path("announce/<slug:slug>/", announce_view),
    path("ok/", ok_view),
    path("async-ok/", async_ok_view),
]


@contextlib.asynccontextmanager
async def request_like_context():
    """What ASGIHandler gives a request: a thread for its sync code, and a
    connection closed at the end (request_finished does that for a request)."""
    async with ThreadSensitiveContext():
        try:
            yield
        finally:
            await sync_to_async(connections.close_all)()


@pytest.fixture
def search():
    return {service.slug: service for service in seed()}["search"]


@pytest.fixture
def connected():
    """Connect test receivers to ``signal``; disconnect them afterwards."""
    connections = []

    def connect(signal, receiver):
        signal.connect(receiver, weak=False)
        connections.append((signal, receiver))

    yield connect
    for signal, receiver in connections:
        signal.disconnect(receiver)


# Sending


@pytest.mark.asyncio
async def test_asend_returns_each_receiver_and_its_response(search):
    async with request_like_context():
        responses = await announce(search)
    assert responses == [
        (log_retirement, "search"),
        (open_incidents, 0),
        (checks_on_record, 0),
    ]


def test_send_runs_the_async_receivers_too(search):
    assert [response for _, response in announce_sync(search)] == ["search", 0, 0]


@pytest.mark.asyncio
async def test_asend_runs_sync_receivers_in_a_thread_and_async_ones_on_the_loop(
    search, connected
):
    threads = {}

    def sync_receiver(sender, **kwargs):
        threads["sync"] = threading.get_ident()

    async def async_receiver(sender, **kwargs):
        threads["async"] = threading.get_ident()

    connected(service_retired, sync_receiver)
    connected(service_retired, async_receiver)
    await announce_outside_a_request(search)
    assert threads["async"] == threading.get_ident()
    assert threads["sync"] != threading.get_ident()


def test_send_runs_async_receivers_on_a_loop_in_another_thread(search, connected):
    threads = {}

    def sync_receiver(sender, **kwargs):
        threads["sync"] = threading.get_ident()

    async def async_receiver(sender, **kwargs):
        threads["async"] = threading.get_ident()

    connected(service_retired, sync_receiver)
    connected(service_retired, async_receiver)
    announce_sync(search)
    assert threads["sync"] == threading.get_ident()
    assert threads["async"] != threading.get_ident()


@pytest.mark.asyncio
async def test_asend_raises_a_receivers_exception(search, connected):
    async def broken(sender, **kwargs):
        raise ConnectionError("broker unreachable")

    connected(service_retired, broken)
    with pytest.raises(ConnectionError, match="broker unreachable"):
        await announce_outside_a_request(search)


@pytest.fixture
def dispatch_log(caplog, monkeypatch):
    """The records of Django's ``django.dispatch`` logger, kept in memory.

    Django logs from the event loop's thread: a file handler there would be a
    blocking write, which the blocking guard fails.
    """
    dispatch_logger = logging.getLogger("django.dispatch")
    monkeypatch.setattr(dispatch_logger, "handlers", [caplog.handler])
    monkeypatch.setattr(dispatch_logger, "propagate", False)
    return caplog


@pytest.mark.asyncio
async def test_asend_robust_returns_the_exception_and_logs_it_on_the_loop(
    search, connected, dispatch_log
):
    async def broken(sender, **kwargs):
        raise ConnectionError("broker unreachable")

    connected(service_retired, broken)
    async with request_like_context():
        assert await announce_robust(search) == [broken]
    [record] = [r for r in dispatch_log.records if r.name == "django.dispatch"]
    assert record.getMessage().startswith("Error calling ")
    assert record.getMessage().endswith("in Signal.send_robust() (broker unreachable)")
    assert record.thread == threading.get_ident()


@pytest.mark.asyncio
async def test_asend_robust_lets_the_other_receivers_finish(
    search, connected, dispatch_log
):
    async def broken(sender, **kwargs):
        raise ConnectionError("broker unreachable")

    connected(service_retired, broken)
    async with request_like_context():
        responses = dict(
            await service_retired.asend_robust(sender=Service, service=search)
        )
    assert isinstance(responses[broken], ConnectionError)
    assert responses[log_retirement] == "search"
    assert responses[open_incidents] == 0


# What Django 6.1 changed


@pytest.mark.needs_django(6, 1)
@pytest.mark.asyncio
async def test_two_async_orm_receivers_outside_a_request_deadlock_guard(search):
    with pytest.raises(RuntimeError) as raised:
        await announce(search)
    assert (
        str(raised.value) == "Single thread executor already being used, would deadlock"
    )


@pytest.mark.skipif(DJANGO_6_1, reason="Django 6.1 shares one context")
@pytest.mark.asyncio
async def test_before_6_1_two_async_orm_receivers_work_outside_a_request(search):
    assert len(await announce(search)) == 3


@pytest.mark.asyncio
async def test_a_thread_sensitive_context_fixes_it(search):
    assert len(await announce_outside_a_request(search)) == 3


@pytest.mark.needs_service("postgres")
@pytest.mark.asyncio
async def test_sending_outside_a_request_hands_its_connection_back(search):
    # More sends than the pool has connections: each context's thread opens
    # one, and the pool would run dry if they were not closed.
    pool_size = connections["default"].settings_dict["OPTIONS"]["pool"]["max_size"]
    for _ in range(pool_size + 2):
        assert len(await announce_outside_a_request(search)) == 3


@pytest.mark.urls(__name__)
@pytest.mark.asyncio
async def test_under_the_asgi_handler_a_view_can_asend(search):
    connection = ASGIConnection("/announce/search/")
    await connection.serve(ASGIHandler())
    assert connection.sent[0]["status"] == 200


@pytest.mark.urls(__name__)
@pytest.mark.needs_django(6, 1)
@pytest.mark.asyncio
async def test_under_async_client_the_same_view_fails(search):
    # AsyncClient opens no ThreadSensitiveContext, unlike a real server.
    with pytest.raises(RuntimeError, match="would deadlock"):
        await AsyncClient().get("/announce/search/")


note = contextvars.ContextVar("note", default="unset")


@pytest.mark.asyncio
async def test_async_receivers_share_one_context_from_6_1(search, connected):
    seen = {}

    async def first(sender, **kwargs):
        note.set("set by the first receiver")

    async def second(sender, **kwargs):
        seen["second"] = note.get()

    connected(service_retired, first)
    connected(service_retired, second)
    await announce_outside_a_request(search)
    if DJANGO_6_1:
        assert seen["second"] == "set by the first receiver"
        # ... and the change reaches the sender.
        assert note.get() == "set by the first receiver"
    else:
        assert seen["second"] == "unset"
        assert note.get() == "unset"


@pytest.mark.asyncio
async def test_a_sync_receivers_context_change_reaches_the_sender_from_6_1(
    search, connected
):
    def sync_receiver(sender, **kwargs):
        note.set("set in the worker thread")

    connected(service_retired, sync_receiver)
    await announce_outside_a_request(search)
    if DJANGO_6_1:
        assert note.get() == "set in the worker thread"
    else:
        # asyncio.gather() ran the sync batch as a task with a copied context.
        assert note.get() == "unset"


# request_started and request_finished


@pytest.fixture
def request_signal_threads(connected):
    seen = []

    def sync_receiver(sender, signal, **kwargs):
        seen.append((signal_name(signal), "sync", threading.get_ident()))

    async def async_receiver(sender, signal, **kwargs):
        seen.append((signal_name(signal), "async", threading.get_ident()))

    for signal in (request_started, request_finished):
        connected(signal, sync_receiver)
        connected(signal, async_receiver)
    return seen


def signal_name(signal):
    return "started" if signal is request_started else "finished"


@pytest.mark.urls(__name__)
@pytest.mark.asyncio
async def test_request_signals_under_asgi(request_signal_threads):
    loop_thread = threading.get_ident()
    await ASGIConnection("/async-ok/").serve(ASGIHandler())
    where = {
        (name, kind): "loop" if thread == loop_thread else "worker"
        for name, kind, thread in request_signal_threads
    }
    assert where == {
        # asend(): async receivers on the loop, sync ones in the request's thread.
        ("started", "sync"): "worker",
        ("started", "async"): "loop",
        # send() from response.close(), in the request's thread; the async
        # receiver goes back to the loop through async_to_sync.
        ("finished", "sync"): "worker",
        ("finished", "async"): "loop",
    }
    workers = {t for _, kind, t in request_signal_threads if kind == "sync"}
    assert len(workers) == 1


@pytest.mark.urls(__name__)
def test_request_signals_under_wsgi(request_signal_threads):
    server_thread = threading.get_ident()
    serve_wsgi(WSGIHandler(), wsgi_environ("/ok/"))
    sync_threads = {t for _, kind, t in request_signal_threads if kind == "sync"}
    async_threads = [t for _, kind, t in request_signal_threads if kind == "async"]
    assert sync_threads == {server_thread}
    # Each send() starts an event loop for the async receiver, in a new thread.
    assert len(async_threads) == 2
    assert server_thread not in async_threads


@pytest.mark.asyncio
async def test_the_sync_receivers_of_one_asend_share_one_hop(
    search, connected, monkeypatch
):
    def also_sync(sender, **kwargs):
        return "also sync"

    connected(service_retired, also_sync)
    hops = []

    def counting_sync_to_async(func, *args, **kwargs):
        hops.append(func)
        return sync_to_async(func, *args, **kwargs)

    monkeypatch.setattr(dispatcher, "sync_to_async", counting_sync_to_async)
    responses = dict(await announce_outside_a_request(search))
    assert responses[also_sync] == "also sync"
    assert responses[log_retirement] == "search"
    assert len(hops) == 1
