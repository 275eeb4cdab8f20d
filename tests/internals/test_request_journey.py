"""Claims of docs/internals/request-journey.md: a request through WSGIHandler and
through ASGIHandler, driven by hand as a server drives them (see
snippets/internals/request_journey.py), so nothing the test client does gets in
the way.
"""

import asyncio
import io
import tempfile
import threading
from wsgiref.util import FileWrapper

import django
import pytest
from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import connections
from django.http import FileResponse, HttpResponse, StreamingHttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from sampleproject.board.models import Service
from snippets.internals.request_journey import (
    ASGIConnection,
    serve_wsgi,
    wsgi_environ,
)

pytestmark = pytest.mark.urls(__name__)

TIMEOUT = 5
SYNC_TO_ASYNC_WARNING = (
    "StreamingHttpResponse must consume synchronous iterators in order to serve "
    "them asynchronously. Use an asynchronous iterator instead."
)
ASYNC_TO_SYNC_WARNING = (
    "StreamingHttpResponse must consume asynchronous iterators in order to serve "
    "them synchronously. Use a synchronous iterator instead."
)

# What the views saw, reset before every test.
seen: dict = {}
log: list = []


@pytest.fixture(autouse=True)
def _fresh_records():
    seen.clear()
    log.clear()


# The views. Each one records what a test needs to know, in `seen` or `log`.


def sync_view(request):
    seen.setdefault("view_threads", []).append(threading.current_thread())
    return HttpResponse("sync")


async def async_view(request):
    seen["view_thread"] = threading.current_thread()
    # Where thread-sensitive sync code called from this view runs.
    seen["sync_thread"] = await sync_to_async(threading.current_thread)()
    return HttpResponse("async")


@csrf_exempt
def upload_view(request):
    seen["stream"] = request._stream  # the body file Django made
    seen["rolled"] = getattr(request._stream, "_rolled", None)
    return HttpResponse(status=204)


@csrf_exempt
def read_body_view(request):
    seen["body"] = request.body
    return HttpResponse(status=204)


async def slow_async_view(request):
    seen["view_task"] = asyncio.current_task()
    seen["started"].set()
    try:
        await asyncio.sleep(60)
    except asyncio.CancelledError:
        seen["cancelled"] = True
        raise
    return HttpResponse("never")  # pragma: no cover


def slow_sync_view(request):
    seen["started"].set()
    seen["released"].wait(TIMEOUT)
    seen["finished"] = True
    return HttpResponse("late")


async def async_chunks():
    log.append("made first")
    yield b"first"
    await seen["go"].wait()
    log.append("made second")
    yield b"second"


def sync_chunks():
    log.append("made first")
    yield b"first"
    log.append("made second")
    yield b"second"


async def async_stream_view(request):
    return StreamingHttpResponse(async_chunks())


def sync_stream_view(request):
    return StreamingHttpResponse(sync_chunks())


async def endless_chunks():
    try:
        yield b"first"
        await asyncio.sleep(60)
        yield b"never"  # pragma: no cover
    finally:
        log.append("generator closed")


async def endless_stream_view(request):
    response = StreamingHttpResponse(endless_chunks())
    seen["response"] = response
    return response


def big_view(request):
    return HttpResponse(b"x" * (150 * 1024))


def file_view(request):
    return FileResponse(io.BytesIO(b"file data"))


def query_view(request):
    seen["connection"] = connections["default"]
    seen["count"] = Service.objects.count()
    return HttpResponse("ok")


urlpatterns = [
    path("sync/", sync_view),
    path("async/", async_view),
    path("upload/", upload_view),
    path("read/", read_body_view),
    path("slow-async/", slow_async_view),
    path("slow-sync/", slow_sync_view),
    path("stream-async/", async_stream_view),
    path("stream-sync/", sync_stream_view),
    path("endless/", endless_stream_view),
    path("big/", big_view),
    path("query/", query_view),
    path("file/", file_view),
]


@pytest.fixture
def signals_seen():
    """Every request_started / request_finished, with the thread it ran in."""
    fired = []

    def on_started(sender, **kwargs):
        fired.append(("started", threading.current_thread()))

    def on_finished(sender, **kwargs):
        fired.append(("finished", threading.current_thread()))

    request_started.connect(on_started)
    request_finished.connect(on_finished)
    yield fired
    request_started.disconnect(on_started)
    request_finished.disconnect(on_finished)


def names(fired):
    return [name for name, _ in fired]


class LoggingConnection(ASGIConnection):
    """An ASGIConnection that also writes what it sends into `log`."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.body_sent = asyncio.Event()

    async def send(self, message):
        await super().send(message)
        if message.get("body"):
            log.append(f"sent {message['body'].decode()}")
            self.body_sent.set()

    async def first_body(self):
        """Wait until the first piece of the body has gone out."""
        await asyncio.wait_for(self.body_sent.wait(), TIMEOUT)


# Reading the body.


def test_wsgi_reads_the_body_only_when_the_view_asks():
    environ = wsgi_environ("/upload/", method="POST", body=b"0123456789")
    status, _ = serve_wsgi(WSGIHandler(), environ)
    assert status == "204 No Content"  # the view ran, and did not read the body
    assert environ["wsgi.input"].tell() == 0


def test_wsgi_reads_no_more_than_content_length():
    stream = io.BytesIO(b"0123456789 and the next request")
    environ = wsgi_environ("/read/", method="POST", body=b"0123456789", stream=stream)
    status, _ = serve_wsgi(WSGIHandler(), environ)
    assert status == "204 No Content"
    assert seen["body"] == b"0123456789"
    assert stream.read() == b" and the next request"


@pytest.mark.asyncio
async def test_asgi_reads_the_whole_body_before_request_started(signals_seen):
    connection = ASGIConnection(
        "/no-such-page/", method="POST", chunks=[b"a" * 10, b"b" * 10, b"c" * 10]
    )

    def count_received(sender, **kwargs):
        seen["received_at_start"] = len(connection.received)

    request_started.connect(count_received)
    try:
        await connection.serve(ASGIHandler())
    finally:
        request_started.disconnect(count_received)
    # All three body messages were taken before the signal, and before routing
    # found that the page does not exist.
    assert seen["received_at_start"] == 3
    assert connection.status == 404


@pytest.mark.asyncio
@pytest.mark.parametrize(("extra", "on_disk"), [(0, False), (1, True)])
async def test_asgi_spools_bodies_above_file_upload_max_memory_size(
    settings, extra, on_disk
):
    limit = settings.FILE_UPLOAD_MAX_MEMORY_SIZE
    assert limit == 2_621_440  # Django's default: 2.5 MiB
    body = b"x" * (limit + extra)
    # The sample project refuses bodies over 64 KiB, but only when code reads
    # request.body or request.POST. This view does not.
    assert len(body) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    chunks = [body[i : i + 65536] for i in range(0, len(body), 65536)]
    connection = ASGIConnection("/upload/", method="POST", chunks=chunks)
    await connection.serve(ASGIHandler())
    assert connection.status == 204
    assert isinstance(seen["stream"], tempfile.SpooledTemporaryFile)
    assert seen["rolled"] is on_disk


@pytest.mark.asyncio
async def test_asgi_writes_spooled_chunks_from_a_worker_thread(settings, monkeypatch):
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 10
    writes = []

    class RecordingFile(tempfile.SpooledTemporaryFile):
        def write(self, data):
            writes.append((self._rolled, threading.current_thread()))
            return super().write(data)

    monkeypatch.setattr(tempfile, "SpooledTemporaryFile", RecordingFile)
    connection = ASGIConnection("/upload/", method="POST", chunks=[b"a" * 8] * 3)
    await connection.serve(ASGIHandler())
    loop_thread = threading.current_thread()
    assert [rolled for rolled, _ in writes] == [False, False, True]
    in_memory_thread, rollover_thread, on_disk_thread = (t for _, t in writes)
    assert in_memory_thread is loop_thread
    assert rollover_thread is loop_thread  # this write is the one that rolls over
    if django.VERSION >= (6, 0):
        assert on_disk_thread is not loop_thread
    else:
        assert on_disk_thread is loop_thread


@pytest.mark.asyncio
async def test_asgi_disconnect_while_reading_the_body_ends_the_request(
    signals_seen,
):
    connection = ASGIConnection(
        "/upload/", method="POST", chunks=[b"half a body"], more_body=True
    )
    connection.disconnect()
    await connection.serve(ASGIHandler())
    assert connection.sent == []
    assert signals_seen == []
    assert "stream" not in seen  # no view ran


# Disconnects.


@pytest.mark.asyncio
async def test_disconnect_cancels_the_async_view(signals_seen):
    seen["started"] = asyncio.Event()
    connection = ASGIConnection("/slow-async/")
    served = asyncio.create_task(connection.serve(ASGIHandler()))
    await asyncio.wait_for(seen["started"].wait(), TIMEOUT)
    connection.disconnect()
    await asyncio.wait_for(served, TIMEOUT)  # returns: RequestAborted is caught
    assert seen["cancelled"] is True
    assert connection.sent == []
    assert names(signals_seen) == ["started", "finished"]


@pytest.mark.asyncio
async def test_the_view_runs_in_the_handlers_own_task_from_django_6_1():
    seen["started"] = asyncio.Event()
    connection = ASGIConnection("/slow-async/")
    served = asyncio.create_task(connection.serve(ASGIHandler()))
    await asyncio.wait_for(seen["started"].wait(), TIMEOUT)
    connection.disconnect()
    await asyncio.wait_for(served, TIMEOUT)
    assert seen["cancelled"] is True
    if django.VERSION >= (6, 1):
        # The body of handle()'s `async with TaskGroup()`: the listener's
        # RequestAborted makes the group cancel this, the handler's own task.
        assert seen["view_task"] is served
    else:
        # A task of its own, which the handler cancels.
        assert seen["view_task"] is not served


@pytest.mark.asyncio
async def test_disconnect_does_not_stop_a_sync_view(signals_seen):
    seen["started"] = threading.Event()
    seen["released"] = threading.Event()
    connection = ASGIConnection("/slow-sync/")
    served = asyncio.create_task(connection.serve(ASGIHandler()))
    assert await asyncio.to_thread(seen["started"].wait, TIMEOUT)
    connection.disconnect()
    await asyncio.sleep(0.2)
    # The view's thread runs on, and the handler waits for it.
    assert not served.done()
    assert "finished" not in seen
    assert names(signals_seen) == ["started"]
    seen["released"].set()
    await asyncio.wait_for(served, TIMEOUT)
    assert seen["finished"] is True
    assert connection.sent == []  # its response is thrown away
    assert names(signals_seen) == ["started", "finished"]


@pytest.mark.asyncio
async def test_disconnect_mid_stream_closes_the_iterator_and_the_response(
    signals_seen,
):
    connection = LoggingConnection("/endless/")
    served = asyncio.create_task(connection.serve(ASGIHandler()))
    await connection.first_body()
    connection.disconnect()
    await asyncio.wait_for(served, TIMEOUT)
    assert log == ["sent first", "generator closed"]
    assert seen["response"].closed is True
    assert names(signals_seen) == ["started", "finished"]


# Signals and connections.


def test_wsgi_sends_each_request_signal_once(signals_seen):
    handler = WSGIHandler()
    response = handler(wsgi_environ("/sync/"), lambda status, headers: None)
    assert names(signals_seen) == ["started"]
    b"".join(response)
    assert names(signals_seen) == ["started"]  # not finished until the server...
    response.close()  # ...calls close(), as PEP 3333 requires
    assert names(signals_seen) == ["started", "finished"]


@pytest.mark.asyncio
async def test_asgi_sends_each_request_signal_once(signals_seen):
    connection = LoggingConnection("/sync/")

    def on_finished(sender, **kwargs):
        log.append("request_finished")

    request_finished.connect(on_finished)
    try:
        await connection.serve(ASGIHandler())
    finally:
        request_finished.disconnect(on_finished)
    assert names(signals_seen) == ["started", "finished"]
    # The handler closes the response itself, after the last message.
    assert log == ["sent sync", "request_finished"]


def test_wsgi_runs_signals_and_the_view_in_the_server_thread(signals_seen):
    serve_wsgi(WSGIHandler(), wsgi_environ("/sync/"))
    server_thread = threading.current_thread()
    assert seen["view_threads"] == [server_thread]
    assert [thread for _, thread in signals_seen] == [server_thread] * 2


@pytest.mark.asyncio
async def test_asgi_runs_signals_and_a_sync_view_in_one_thread_per_request(
    signals_seen,
):
    handler = ASGIHandler()
    await ASGIConnection("/sync/").serve(handler)
    await ASGIConnection("/sync/").serve(handler)
    first, second = seen["view_threads"]
    loop_thread = threading.current_thread()
    assert first is not loop_thread
    assert second is not loop_thread
    assert first is not second  # a new thread for each request
    threads = [thread for _, thread in signals_seen]
    assert threads == [first, first, second, second]


def test_wsgi_runs_an_async_view_on_a_loop_in_another_thread():
    serve_wsgi(WSGIHandler(), wsgi_environ("/async/"))
    server_thread = threading.current_thread()
    assert seen["view_thread"] is not server_thread
    # Thread-sensitive sync code called from the view comes back to the server's
    # thread, which waits for the view meanwhile.
    assert seen["sync_thread"] is server_thread


@pytest.mark.asyncio
async def test_asgi_runs_an_async_view_on_the_event_loop():
    await ASGIConnection("/async/").serve(ASGIHandler())
    loop_thread = threading.current_thread()
    assert seen["view_thread"] is loop_thread
    assert seen["sync_thread"] is not loop_thread


@pytest.mark.django_db(transaction=True)
def test_wsgi_request_finished_closes_the_request_thread_connection():
    # A server worker thread, so the connection is not the test's own.
    worker = threading.Thread(
        target=serve_wsgi, args=(WSGIHandler(), wsgi_environ("/query/"))
    )
    worker.start()
    worker.join(TIMEOUT)
    assert seen["count"] == 0
    assert seen["connection"].connection is None  # closed by close_old_connections


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_asgi_request_finished_closes_the_request_thread_connection():
    await ASGIConnection("/query/").serve(ASGIHandler())
    assert seen["count"] == 0
    assert seen["connection"].connection is None  # closed by close_old_connections


# Streaming and closing.


def test_wsgi_streams_a_sync_iterator():
    handler = WSGIHandler()
    response = handler(wsgi_environ("/stream-sync/"), lambda status, headers: None)
    chunks = iter(response)
    assert next(chunks) == b"first"
    assert log == ["made first"]  # the second chunk is not made yet
    assert list(chunks) == [b"second"]
    response.close()


def test_wsgi_hands_a_file_response_to_the_server_file_wrapper(signals_seen):
    environ = wsgi_environ("/file/")
    environ["wsgi.file_wrapper"] = FileWrapper
    result = WSGIHandler()(environ, lambda status, headers: None)
    assert isinstance(result, FileWrapper)  # not the response
    assert b"".join(result) == b"file data"
    result.close()  # the server closes the wrapper: that closes the response
    assert names(signals_seen) == ["started", "finished"]


def test_wsgi_buffers_an_async_iterator_with_a_warning():
    seen["go"] = asyncio.Event()
    seen["go"].set()
    handler = WSGIHandler()
    response = handler(wsgi_environ("/stream-async/"), lambda status, headers: None)
    with pytest.warns(Warning, match=ASYNC_TO_SYNC_WARNING):
        chunks = iter(response)
    assert log == ["made first", "made second"]  # all of it, before the first
    assert list(chunks) == [b"first", b"second"]
    response.close()


@pytest.mark.asyncio
async def test_asgi_streams_an_async_iterator():
    seen["go"] = asyncio.Event()
    connection = LoggingConnection("/stream-async/")
    served = asyncio.create_task(connection.serve(ASGIHandler()))
    await connection.first_body()
    assert log == ["made first", "sent first"]  # the second is not made yet
    seen["go"].set()
    await asyncio.wait_for(served, TIMEOUT)
    assert log == ["made first", "sent first", "made second", "sent second"]
    assert connection.sent[-1] == {"type": "http.response.body"}  # the end


@pytest.mark.asyncio
async def test_asgi_buffers_a_sync_iterator_with_a_warning():
    connection = LoggingConnection("/stream-sync/")
    with pytest.warns(Warning, match=SYNC_TO_ASYNC_WARNING):
        await connection.serve(ASGIHandler())
    assert log == ["made first", "made second", "sent first", "sent second"]


@pytest.mark.asyncio
async def test_asgi_cuts_a_long_body_into_64_kib_messages():
    connection = ASGIConnection("/big/")
    await connection.serve(ASGIHandler())
    bodies = connection.sent[1:]
    assert [len(m["body"]) for m in bodies] == [65536, 65536, 150 * 1024 - 131072]
    assert [m["more_body"] for m in bodies] == [True, True, False]


@pytest.mark.asyncio
async def test_asgi_closing_the_response_closes_the_body_file(settings):
    # A body over the limit: spooled to a temporary file on disk.
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 10
    at_request_finished = {}

    def on_finished(sender, **kwargs):
        # handle() closes the body file too, but only after response.close()
        # has returned: what is closed here was closed by the response.
        stream = seen["stream"]
        at_request_finished["closed"] = stream.closed
        at_request_finished["disk file closed"] = stream._file.closed

    request_finished.connect(on_finished)
    try:
        connection = ASGIConnection("/upload/", method="POST", chunks=[b"a" * 8] * 3)
        await connection.serve(ASGIHandler())
    finally:
        request_finished.disconnect(on_finished)
    assert connection.status == 204
    assert seen["rolled"] is True
    assert at_request_finished == {"closed": True, "disk file closed": True}
