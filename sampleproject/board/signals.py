"""The board's own signal, and how Django runs its receivers.

``checks_recorded`` is sent after a batch of check outcomes is stored, by the
check-all views and by the ``runchecks`` command, with ``outcomes`` (a list of
:class:`~sampleproject.board.outcome.Outcome`) and ``changes`` (a list of
:class:`~sampleproject.board.recording.Change`). Async code sends it with
``await checks_recorded.asend(sender, ...)``; sync code with ``send()``. The
receivers are in receivers.py and alerts.py.

How Django runs the receivers, which mix both kinds:

- ``await checks_recorded.asend(...)`` (the async view, ``runchecks``): the
  sync receivers run together in one ``sync_to_async`` call, in a worker
  thread; the async ones run as tasks on the caller's event loop, concurrently
  with each other. On Django 6.1 the sync group finishes before the async
  group starts; on Django 5.2 the two groups run at the same time.
- ``checks_recorded.send(...)`` (the sync view): the sync receivers run first,
  in the caller's thread; then one ``async_to_sync`` call runs the async ones
  concurrently, on an event loop of its own under WSGI, or back on the
  server's loop for a sync view under ASGI.

Neither ``send()`` nor ``asend()`` catches a receiver's exception: it reaches
the sender (the view or the checker). On Django 6.1 it also cancels the async
receivers still running (they run in an :class:`asyncio.TaskGroup`); on
Django 5.2 they run on, unawaited (``asyncio.gather``). So the board's receivers
handle the failures they expect themselves: a mail server that is down is
logged by the outbox's thread, not raised.

Send with ``asend()`` from inside an ``asgiref`` ``ThreadSensitiveContext``,
as Django's ASGI handler does for every request and ``runchecks`` does for
its whole run. Outside one (a management command's own event loop, a test,
Django's ``AsyncClient``), thread-sensitive ``sync_to_async`` calls share one
process-wide thread guarded by a context variable, and Django 6.1 runs all
async receivers in one shared ``contextvars.Context``: when two async
receivers use the ORM at the same moment, the second gets ``RuntimeError:
Single thread executor already being used, would deadlock``. Django 5.2 gives
each receiver a context of its own and is not affected.
"""

from django.dispatch import Signal

checks_recorded = Signal()
