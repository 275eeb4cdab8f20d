"""E-mail the team when incidents open or close, with Django's sync mail API.

:class:`IncidentNotifier` sends one plain-text e-mail per batch of
:class:`~sampleproject.board.recording.Change` objects to the addresses in the
``BOARD_INCIDENT_RECIPIENTS`` setting, from ``DEFAULT_FROM_EMAIL``, with a
subject such as ``[status board] Payments API down; Search recovered``. With no
recipients or no changes it sends nothing.

Django's mail API is sync only: :meth:`send` talks SMTP through
:mod:`smtplib` and blocks while it does. Async code must not call it on the
event loop, so the notifier has an async namespace
(:class:`~sampleproject.board.asyncattr.AsyncNamespace`)::

    sent = await notifier.a.send(changes, services_by_id)

which runs :meth:`send` in a thread with ``sync_to_async``. Service names are
user input: they are made single-line before they reach a header, so a name
with a newline can neither break the message nor add a header.

Code that must not wait for the mail server (a request, the checker's loop)
hands the send to :data:`outbox` instead: a bounded queue with one thread of
its own that sends in the background. A slow or dead mail server then delays
only the e-mail, for at most the SMTP timeout per message.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Mapping, Sequence

from django.conf import settings
from django.core.mail import EmailMessage

from sampleproject.board.asyncattr import AsyncNamespace
from sampleproject.board.models import Service
from sampleproject.board.recording import Change

logger = logging.getLogger("sampleproject.board")

SUBJECT_PREFIX = "[status board] "
# Past this many changes the subject summarizes; the body lists them all.
SUBJECT_ITEMS = 3
NAME_LIMIT = 60


def one_line(text: object, limit: int | None = None) -> str:
    """``text`` as one printable line: safe in a header, readable in a list."""
    # A lone surrogate cannot be encoded in any header charset.
    text = str(text).encode("utf-8", "replace").decode("utf-8")
    text = "".join(" " if ch < " " or ch == "\x7f" else ch for ch in text)
    text = " ".join(text.split())  # Also \u2028, \x85 and the like.
    if limit is not None and len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text or "(no name)"


def service_name(service_id: int, services_by_id: Mapping[int, Service]) -> str:
    service = services_by_id.get(service_id)
    if service is None:
        # Deleted between the check and the e-mail.
        return f"service #{service_id}"
    return one_line(service.name, NAME_LIMIT)


class IncidentNotifier:
    """Sends incident e-mails; ``await notifier.a.send(...)`` from async code."""

    a = AsyncNamespace()

    def __init__(
        self,
        recipients: Sequence[str] | None = None,
        from_email: str | None = None,
    ) -> None:
        # None: read the settings at each send, so overriding them works.
        self._recipients = None if recipients is None else list(recipients)
        self._from_email = from_email

    def recipients(self) -> list[str]:
        if self._recipients is not None:
            return list(self._recipients)
        return list(getattr(settings, "BOARD_INCIDENT_RECIPIENTS", ()))

    def subject(self, changes: Sequence[Change], services_by_id) -> str:
        items = [
            f"{service_name(change.service_id, services_by_id)}"
            f" {'down' if change.opened else 'recovered'}"
            for change in changes
        ]
        if len(items) > SUBJECT_ITEMS:
            more = len(items) - SUBJECT_ITEMS + 1
            items = [*items[: SUBJECT_ITEMS - 1], f"{more} more changes"]
        return SUBJECT_PREFIX + "; ".join(items)

    def body(self, changes: Sequence[Change], services_by_id) -> str:
        sections = []
        for opened, title in ((True, "Down"), (False, "Recovered")):
            lines = []
            for change in changes:
                if change.opened is not opened:
                    continue
                service = services_by_id.get(change.service_id)
                name = service_name(change.service_id, services_by_id)
                where = f" <{one_line(service.url)}>" if service is not None else ""
                lines.append(f"- {name}{where}, incident #{change.incident_id}")
            if lines:
                sections.append(f"{title}:\n" + "\n".join(lines))
        return "\n\n".join(sections) + "\n\n-- \nThe status board\n"

    def message(
        self, changes: Sequence[Change], services_by_id, recipients: Sequence[str]
    ) -> EmailMessage:
        return EmailMessage(
            subject=self.subject(changes, services_by_id),
            body=self.body(changes, services_by_id),
            from_email=self._from_email,  # None: DEFAULT_FROM_EMAIL
            to=list(recipients),
        )

    def send(
        self, changes: Sequence[Change], services_by_id: Mapping[int, Service]
    ) -> int:
        """E-mail ``changes``; return how many messages were sent (0 or 1).

        ``services_by_id`` maps service ids to services, for names and URLs.
        Mail errors (an :class:`OSError`, which :mod:`smtplib`'s errors are)
        propagate: the caller decides whether a lost e-mail matters.
        """
        recipients = self.recipients()
        if not changes or not recipients:
            return 0
        return self.message(changes, services_by_id, recipients).send()


class Outbox:
    """A bounded queue of e-mails and one daemon thread that sends them.

    :meth:`put` never waits: when ``maxsize`` e-mails are already waiting (a
    mail server down for long), the new one is dropped and logged, so memory
    stays bounded. An e-mail that fails is logged. Daemon thread: a process
    that exits does not wait for a mail server.
    """

    def __init__(self, maxsize: int = 100) -> None:
        self._queue: queue.Queue[tuple[Callable[[], object], str]] = queue.Queue(
            maxsize
        )
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._unfinished = 0
        self.dropped = 0

    def put(self, send: Callable[[], object], what: str) -> bool:
        """Queue ``send()``; ``what`` names the e-mail in log messages."""
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._work, name="board outbox", daemon=True
                )
                self._thread.start()
            try:
                self._queue.put_nowait((send, what))
            except queue.Full:
                self.dropped += 1
                logger.error("mail queue full: dropped %s", what)
                return False
            self._unfinished += 1
        return True

    def _work(self) -> None:
        while True:
            send, what = self._queue.get()
            try:
                send()
            except Exception:
                # smtplib's errors are OSErrors; a bad message raises others.
                logger.exception("could not e-mail %s", what)
            finally:
                with self._lock:
                    self._unfinished -= 1
                    self._idle.notify_all()

    def join(self, timeout: float | None = None) -> bool:
        """Wait until every queued e-mail was tried; False if time ran out."""
        with self._lock:
            return self._idle.wait_for(lambda: not self._unfinished, timeout)


outbox = Outbox()
