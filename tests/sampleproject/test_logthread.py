"""The project's log handler writes in a thread of its own, never the caller's."""

import asyncio
import io
import logging
import sys
import threading

import pytest
from django.conf import settings

from sampleproject.logthread import ThreadedStreamHandler


class ThreadRecordingStream(io.StringIO):
    """A stream that remembers which thread wrote to it."""

    def __init__(self):
        super().__init__()
        self.writers: set[str] = set()

    def write(self, text):
        self.writers.add(threading.current_thread().name)
        return super().write(text)


@pytest.fixture
def handler_and_stream():
    stream = ThreadRecordingStream()
    handler = ThreadedStreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("tests.logthread")
    logger.addHandler(handler)
    yield logger, handler, stream
    logger.removeHandler(handler)
    handler.close()


def test_a_record_is_written_by_another_thread_formatted(handler_and_stream):
    logger, handler, stream = handler_and_stream
    logger.warning("service %s is down", "billing")
    handler.close()  # waits until the queue is written
    assert stream.getvalue() == "WARNING tests.logthread: service billing is down\n"
    assert threading.current_thread().name not in stream.writers
    assert len(stream.writers) == 1


@pytest.mark.asyncio
async def test_logging_from_the_event_loop_does_not_write_on_it(handler_and_stream):
    logger, handler, stream = handler_and_stream
    loop_thread = threading.current_thread().name
    try:
        raise TimeoutError("upstream took too long")
    except TimeoutError:
        logger.exception("check failed")
    await asyncio.to_thread(handler.close)
    assert "check failed\nTraceback" in stream.getvalue()
    assert "TimeoutError: upstream took too long" in stream.getvalue()
    assert loop_thread not in stream.writers


def test_without_a_stream_it_writes_to_the_stderr_of_the_moment(monkeypatch):
    # Built while one stderr is in place, writing after another replaced it
    # (pytest swaps it per test; a closed one raised on every record).
    handler = ThreadedStreamHandler()
    replaced = ThreadRecordingStream()
    monkeypatch.setattr(sys, "stderr", replaced)
    logger = logging.getLogger("tests.logthread.stderr")
    logger.addHandler(handler)
    try:
        logger.warning("written to the stderr in place now")
    finally:
        logger.removeHandler(handler)
        handler.close()
    assert replaced.getvalue() == "written to the stderr in place now\n"


def test_closing_twice_is_harmless(handler_and_stream):
    _, handler, _ = handler_and_stream
    handler.close()
    handler.close()


def test_the_projects_console_handlers_are_threaded():
    handlers = settings.LOGGING["handlers"]
    assert {h["class"] for h in handlers.values()} == {
        "sampleproject.logthread.ThreadedStreamHandler"
    }
    board = logging.getLogger("sampleproject.board")
    assert [type(h) for h in board.handlers] == [ThreadedStreamHandler]
    # dictConfig built it like any handler class: its writer has a real stream
    # (Python 3.12+ would hand a QueueHandler subclass a queue in its place).
    (writer,) = board.handlers[0].listener.handlers
    assert writer.stream is sys.stderr
    # Django's own logger too, instead of its default same-thread console.
    assert [type(h) for h in logging.getLogger("django").handlers] == [
        ThreadedStreamHandler
    ]
