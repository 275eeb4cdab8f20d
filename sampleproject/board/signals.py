"""The board's own signal.

``checks_recorded`` is sent after a batch of check outcomes is stored, by the
check-all views and by the ``runchecks`` command, with ``outcomes`` (a list of
:class:`~sampleproject.board.checker.Outcome`) and ``changes`` (a list of
:class:`~sampleproject.board.recording.Change`). Async code sends it with
``await checks_recorded.asend(sender, ...)``; Django awaits the async receivers
concurrently and runs the sync ones in a thread (see receivers.py).
"""

from django.dispatch import Signal

checks_recorded = Signal()
