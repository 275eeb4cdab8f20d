"""A log handler that writes from a thread of its own, never from the event loop.

A ``StreamHandler`` writes in the thread that logs. Under ASGI that is often the
event loop's thread, and a write to a slow pipe (a terminal that is paused, a
log collector that stalls) holds up every request on that loop. This handler
only formats the record and puts it on a queue, which never blocks; a
``QueueListener`` thread does the writing. Closing the handler (Django's
logging setup, or ``logging.shutdown`` at exit) writes what is queued first.

Python's own ``QueueHandler`` does the queueing, but ``dictConfig`` treats it
specially (3.12+ builds its listener without starting it; 3.11 cannot wire a
listener at all), so this handler queues by itself and ``LOGGING`` names it
like any other handler class.
"""

from __future__ import annotations

import copy
import logging
import logging.handlers
import queue
import sys


class CurrentStderrHandler(logging.StreamHandler):
    """A ``StreamHandler`` that writes to ``sys.stderr`` as it is at each write.

    ``StreamHandler()`` keeps the ``sys.stderr`` of the moment it was built. A
    program that swaps ``sys.stderr`` later (a daemonizer, a test runner that
    captures output per test) would leave it writing to a stream that has
    since closed: "ValueError: I/O operation on closed file" on every record.
    """

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):
        pass  # StreamHandler.__init__ and setStream: always the current one.


class ThreadedStreamHandler(logging.Handler):
    """Like ``logging.StreamHandler(stream)``, but the write happens in a thread.

    Without a ``stream``, it writes to ``sys.stderr`` as it is at each write.
    """

    def __init__(self, stream=None):
        super().__init__()
        self.queue = queue.SimpleQueue()
        writer = (
            CurrentStderrHandler() if stream is None else logging.StreamHandler(stream)
        )
        self.listener = logging.handlers.QueueListener(self.queue, writer)
        self.listener.start()
        self._running = True

    def emit(self, record):
        # Format here, with this handler's formatter, and queue plain text: the
        # record's arguments and traceback may not be safe to read later.
        try:
            message = self.format(record)
            record = copy.copy(record)
            record.message = record.msg = message
            record.args = record.exc_info = record.exc_text = None
            record.stack_info = None
            self.queue.put_nowait(record)
        except Exception:
            self.handleError(record)

    def close(self):
        # Called by logging.shutdown() and by each reconfiguration; only once
        # may the listener be stopped (it joins its thread).
        if self._running:
            self._running = False
            self.listener.stop()
        super().close()
