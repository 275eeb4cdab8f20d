"""Claims of docs/internals/test-client.md: what AsyncClient does on the ASGI path,
and where it differs from ASGIHandler behind a real server.

The page's example tests live in snippets/internals/client_examples.py; importing
them here is what makes pytest collect and run them, with their own markers.
"""

import asyncio
import contextvars
import threading

import django
import pytest
from asgiref.sync import SyncToAsync, async_to_sync, sync_to_async
from django.core.handlers.asgi import ASGIHandler, ASGIRequest
from django.core.signals import request_finished, request_started
from django.db import ProgrammingError, close_old_connections, connections, transaction
from django.dispatch import Signal
from django.http import HttpResponse, StreamingHttpResponse
from django.test import AsyncClient, AsyncRequestFactory, TestCase
from django.test.client import AsyncClientHandler
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt

from sampleproject.board.models import Service
from snippets.internals import client_examples
from snippets.internals.client_examples import (  # collected and run here
    search_service,
    test_board_counts_in_a_thread_sensitive_context,
    test_summary_counts_the_service_made_in_the_test,
    test_summary_misses_the_service_made_by_a_sync_fixture,
)
from snippets.internals.request_journey import ASGIConnection
from tests.support.asgi import StreamingGet

__all__ = [
    "search_service",
    "test_board_counts_in_a_thread_sensitive_context",
    "test_summary_counts_the_service_made_in_the_test",
    "test_summary_misses_the_service_made_by_a_sync_fixture",
]

pytestmark = pytest.mark.urls(__name__)

TIMEOUT = 5
DEADLOCK = "Single thread executor already being used, would deadlock"
SYNC_TO_ASYNC_WARNING = "must consume synchronous iterators"

seen: dict = {}
log: list = []


@pytest.fixture(autouse=True)
def _fresh_records():
    seen.clear()
    log.clear()


def sync_view(request):
    seen.setdefault("threads", []).append(threading.current_thread())
    return HttpResponse("sync")


def query_view(request):
    seen["connection"] = connections["default"]
    seen["count"] = Service.objects.count()
    return HttpResponse("ok")


@csrf_exempt
def upload_view(request):
    seen["stream"] = request._stream
    return HttpResponse(status=204)


async def failing_view(request):
    raise ValueError("the view failed")


def sync_chunks():
    yield b"first"
    yield b"second"


def sync_stream_view(request):
    return StreamingHttpResponse(sync_chunks())


async def endless_chunks():
    try:
        yield b"first"
        await asyncio.sleep(60)
    except asyncio.CancelledError:
        log.append("cancelled")
        raise
    finally:
        log.append("closed")


async def endless_view(request):
    return StreamingHttpResponse(endless_chunks())


urlpatterns = [
    path("sync/", sync_view),
    path("query/", query_view),
    path("upload/", upload_view),
    path("fail/", failing_view),
    path("stream-sync/", sync_stream_view),
    path("endless/", endless_view),
    path("counts/", client_examples.board_counts),
    path("", include("sampleproject.urls")),  # for the page's example tests
]


@pytest.fixture
def finished_count():
    fired = []

    def on_finished(sender, **kwargs):
        fired.append(sender)

    request_finished.connect(on_finished)
    yield fired
    request_finished.disconnect(on_finished)


# How AsyncClient drives the ASGI path.


@pytest.mark.asyncio
async def test_async_client_calls_async_client_handler_with_a_scope():
    client = AsyncClient()
    assert isinstance(client.handler, AsyncClientHandler)
    assert not isinstance(client.handler, ASGIHandler)
    response = await client.get("/sync/")
    assert response.asgi_request.scope["type"] == "http"
    assert response.asgi_request.scope["path"] == "/sync/"
    # The same async middleware chain as ASGIHandler: the sample project's
    # first middleware added its header.
    assert response.headers["Server-Timing"].startswith("app;dur=")


def test_async_request_factory_only_makes_a_request(finished_count):
    started = []

    def on_started(sender, **kwargs):
        started.append(sender)

    request_started.connect(on_started)
    try:
        request = AsyncRequestFactory().post(
            "/upload/", b"data", content_type="text/plain"
        )
    finally:
        request_started.disconnect(on_started)
    assert isinstance(request, ASGIRequest)
    assert request.body == b"data"
    assert not hasattr(request, "session")  # no middleware ran
    assert started == []  # and no request signal was sent
    assert finished_count == []


@pytest.mark.asyncio
async def test_async_client_keeps_the_body_in_memory(settings):
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 10
    body = b"x" * 100  # ten times the limit
    await AsyncClient().post("/upload/", body, content_type="text/plain")
    from_client = seen.pop("stream")
    await ASGIConnection("/upload/", method="POST", chunks=[body]).serve(ASGIHandler())
    from_handler = seen.pop("stream")
    assert type(from_client).__name__ == "LimitedStream"  # over a FakePayload
    assert type(from_handler).__name__ == "SpooledTemporaryFile"
    assert from_handler._rolled is True


# Connections and request signals.


def connected(signal, function) -> bool:
    sync_receivers, async_receivers = signal._live_receivers(None)
    return function in sync_receivers + async_receivers


@pytest.mark.asyncio
async def test_async_client_unhooks_close_old_connections():
    during = []

    def snapshot(sender, **kwargs):
        during.append(connected(request_started, close_old_connections))
        during.append(connected(request_finished, close_old_connections))

    request_started.connect(snapshot)
    request_finished.connect(snapshot)
    try:
        await AsyncClient().get("/sync/")
    finally:
        request_started.disconnect(snapshot)
        request_finished.disconnect(snapshot)
    assert during == [False, True, True, False]  # off while each signal is sent
    assert connected(request_started, close_old_connections)  # and back after
    assert connected(request_finished, close_old_connections)


@pytest.mark.django_db(transaction=True)
def test_close_old_connections_would_end_a_test_transaction():
    # Why the test client disconnects it: inside a transaction, as a test is,
    # it closes the connection, and the transaction's rows are gone.
    with transaction.atomic():
        Service.objects.create(name="Email", slug="email", url="https://e.test/")
        close_old_connections()
        with pytest.raises(ProgrammingError):
            Service.objects.count()
    assert Service.objects.count() == 0


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_request_connection_outlives_the_request_under_async_client():
    await AsyncClient().get("/query/")
    assert seen["connection"].connection is not None  # still open
    await ASGIConnection("/query/").serve(ASGIHandler())
    assert seen["connection"].connection is None  # closed at request_finished


# Exceptions, streams, disconnects.


@pytest.mark.asyncio
async def test_async_client_raises_the_view_exception():
    with pytest.raises(ValueError, match="the view failed"):
        await AsyncClient().get("/fail/")


@pytest.mark.asyncio
async def test_async_client_can_return_the_500_instead():
    response = await AsyncClient(raise_request_exception=False).get("/fail/")
    assert response.status_code == 500
    assert response.exc_info[0] is ValueError


@pytest.mark.asyncio
async def test_asgi_handler_answers_500_and_raises_nothing():
    connection = ASGIConnection("/fail/")
    await connection.serve(ASGIHandler())
    assert connection.status == 500


@pytest.mark.asyncio
async def test_async_client_hands_back_the_stream_unread(finished_count, recwarn):
    response = await AsyncClient().get("/stream-sync/")
    assert finished_count == []  # the response is not closed yet
    assert b"".join(response.streaming_content) == b"firstsecond"
    assert len(finished_count) == 1  # reading to the end closed it
    # A sync iterator under the async client: no warning. ASGIHandler warns.
    assert not [w for w in recwarn if SYNC_TO_ASYNC_WARNING in str(w.message)]
    with pytest.warns(Warning, match=SYNC_TO_ASYNC_WARNING):
        await ASGIConnection("/stream-sync/").serve(ASGIHandler())


@pytest.mark.asyncio
async def test_async_client_never_disconnects():
    response = await AsyncClient().get("/endless/")
    chunks = aiter(response.streaming_content)
    assert await anext(chunks) == b"first"
    reading = asyncio.create_task(anext(chunks))
    await asyncio.sleep(0.05)
    assert not reading.done()
    assert log == []  # nothing will end it: no disconnect is coming
    reading.cancel()  # the test has to do it
    with pytest.raises(asyncio.CancelledError):
        await reading
    assert log == ["cancelled", "closed"]
    log.clear()
    async with StreamingGet(ASGIHandler(), "/endless/") as stream:
        await stream.read_until("first")
    # Leaving the block sends http.disconnect: the handler cancels the view.
    assert log == ["cancelled", "closed"]


# Threads: no ThreadSensitiveContext per request.


@pytest.mark.asyncio
async def test_async_client_runs_every_sync_view_in_one_shared_thread():
    client = AsyncClient()
    await client.get("/sync/")
    await client.get("/sync/")
    first, second = seen.pop("threads")
    assert first is second
    shared = SyncToAsync.single_thread_executor.submit(threading.current_thread)
    # Awaited, not result(): a test must not block its own event loop.
    async with asyncio.timeout(TIMEOUT):
        assert await asyncio.wrap_future(shared) is first  # the process-wide thread
    handler = ASGIHandler()
    await ASGIConnection("/sync/").serve(handler)
    await ASGIConnection("/sync/").serve(handler)
    first, second = seen.pop("threads")
    assert first is not second  # a thread per request


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_two_orm_receivers_at_once_under_async_client():
    if django.VERSION >= (6, 1):
        with pytest.raises(RuntimeError, match=DEADLOCK):
            await AsyncClient().get("/counts/")
    else:
        response = await AsyncClient().get("/counts/")
        assert response.json() == {"count_services": 0, "count_enabled": 0}


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_two_orm_receivers_at_once_under_asgi_handler():
    connection = ASGIConnection("/counts/")
    await connection.serve(ASGIHandler())
    assert connection.status == 200
    assert connection.body == b'{"count_services": 0, "count_enabled": 0}'


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_like_asgi_handler_closes_the_connection_of_its_thread():
    async with client_examples.like_asgi_handler():
        await AsyncClient().get("/query/")
        in_context = seen["connection"].connection is not None
    assert in_context  # AsyncClient left it open...
    assert seen["connection"].connection is None  # ...the helper closed it


@pytest.mark.asyncio
async def test_asend_runs_async_receivers_in_one_shared_context_on_django_6_1():
    who = contextvars.ContextVar("who")
    saw = {}

    async def first(sender, **kwargs):
        who.set("first")
        await asyncio.sleep(0)  # let the other receiver run
        saw["first"] = who.get()

    async def second(sender, **kwargs):
        who.set("second")
        await asyncio.sleep(0)
        saw["second"] = who.get()

    signal = Signal()
    signal.connect(first)
    signal.connect(second)
    await signal.asend(sender=None)
    if django.VERSION >= (6, 1):
        assert saw == {"first": "second", "second": "second"}  # one context
    else:
        assert saw == {"first": "first", "second": "second"}  # one each


# The transaction=True trap, and why.


@pytest.fixture
def row_in_the_test_thread(db):
    """A row made in the test's own thread, inside the test's transaction."""
    seen["test_connection"] = connections["default"]
    return Service.objects.create(name="Login", slug="login", url="https://l.test/")


@pytest.mark.asyncio
@pytest.mark.django_db
async def test_the_orm_in_an_async_test_uses_another_thread_and_connection(
    row_in_the_test_thread,
):
    def where():
        return threading.current_thread(), connections["default"]

    thread, connection = await sync_to_async(where)()
    assert thread is not threading.current_thread()
    shared = SyncToAsync.single_thread_executor.submit(threading.current_thread)
    async with asyncio.timeout(TIMEOUT):
        assert await asyncio.wrap_future(shared) is thread
    assert connection is not seen["test_connection"]
    assert await Service.objects.acount() == 0  # the row is not visible there


@pytest.mark.django_db
def test_async_to_sync_brings_the_orm_back_to_the_test_thread(row_in_the_test_thread):
    # Django's own TestCase wraps an async test method in async_to_sync, so
    # thread-sensitive ORM calls come back to the test's thread and transaction.
    async def count():
        return await Service.objects.acount()

    assert async_to_sync(count)() == 1


class DjangoTestCaseAsyncTest(TestCase):
    """Django's TestCase, collected by pytest like any unittest class."""

    @classmethod
    def setUpTestData(cls):
        Service.objects.create(name="Search", slug="search", url="https://s.test/")

    async def test_an_async_test_method_sees_the_test_rows(self):
        # async_to_sync runs this coroutine on a loop in another thread; the
        # test's thread waits, and runs the thread-sensitive ORM calls.
        assert threading.current_thread() is not threading.main_thread()
        assert await Service.objects.acount() == 1
        response = await self.async_client.get("/api/summary/")
        assert response.json() == {"services": 1, "enabled": 1}
