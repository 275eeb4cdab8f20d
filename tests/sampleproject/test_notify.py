"""Tests for sampleproject/board/notify.py: incident e-mails, sync and async."""

import threading

import django
import pytest

from sampleproject.board.models import Service
from sampleproject.board.notify import IncidentNotifier, one_line
from sampleproject.board.recording import Change
from tests.support.servers import free_port

RECIPIENTS = ["oncall@example.com", "team@example.com"]


def services(*names):
    """Unsaved services with ids 1, 2, ...: the notifier needs no database."""
    return {
        pk: Service(pk=pk, name=name, slug=f"s{pk}", url=f"https://s{pk}.example/")
        for pk, name in enumerate(names, start=1)
    }


@pytest.fixture
def recipients(settings):
    settings.BOARD_INCIDENT_RECIPIENTS = RECIPIENTS
    return RECIPIENTS


def test_one_mail_lists_opened_and_closed_incidents(recipients, mailoutbox, settings):
    changes = [Change(1, 12, opened=True), Change(2, 9, opened=False)]

    sent = IncidentNotifier().send(changes, services("Payments API", "Search"))

    assert sent == 1
    [mail] = mailoutbox
    assert mail.subject == "[status board] Payments API down; Search recovered"
    assert mail.to == RECIPIENTS
    assert mail.from_email == settings.DEFAULT_FROM_EMAIL
    assert mail.body == (
        "Down:\n"
        "- Payments API <https://s1.example/>, incident #12\n"
        "\n"
        "Recovered:\n"
        "- Search <https://s2.example/>, incident #9\n"
        "\n"
        "-- \n"
        "The status board\n"
    )


def test_nothing_without_recipients(mailoutbox, settings):
    settings.BOARD_INCIDENT_RECIPIENTS = []

    assert IncidentNotifier().send([Change(1, 1, opened=True)], services("A")) == 0
    assert mailoutbox == []


def test_nothing_without_changes(recipients, mailoutbox):
    assert IncidentNotifier().send([], services("A")) == 0
    assert mailoutbox == []


def test_explicit_recipients_and_sender_win(recipients, mailoutbox):
    notifier = IncidentNotifier(["boss@example.com"], from_email="board@example.com")

    notifier.send([Change(1, 1, opened=True)], services("A"))

    assert mailoutbox[0].to == ["boss@example.com"]
    assert mailoutbox[0].from_email == "board@example.com"


def test_many_changes_are_summed_up_in_the_subject(recipients, mailoutbox):
    changes = [Change(pk, pk, opened=pk % 2 == 1) for pk in range(1, 6)]

    IncidentNotifier().send(changes, services("A", "B", "C", "D", "E"))

    assert mailoutbox[0].subject == "[status board] A down; B recovered; 3 more changes"
    assert mailoutbox[0].body.count("\n- ") == 5


def test_a_deleted_service_is_named_by_its_id(recipients, mailoutbox):
    IncidentNotifier().send([Change(99, 7, opened=True)], {})

    assert mailoutbox[0].subject == "[status board] service #99 down"
    assert "- service #99, incident #7" in mailoutbox[0].body


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("Evil\r\nBcc: victim@example.com", "Evil Bcc: victim@example.com"),
        ("tab\tand\x00nul\x1b[31m", "tab and nul [31m"),
        ("line\u2028separator\x85next", "line separator next"),
        ("lone \ud800 surrogate", "lone ? surrogate"),
        ("   ", "(no name)"),
        ("Ünïcødé 🚦", "Ünïcødé 🚦"),
        ("x" * 100, "x" * 59 + "…"),
    ],
)
def test_odd_names_never_break_the_mail(recipients, mailoutbox, name, shown):
    IncidentNotifier().send([Change(1, 1, opened=True)], services(name))

    [mail] = mailoutbox
    assert mail.subject == f"[status board] {shown} down"
    raw = mail.message().as_bytes()  # what an SMTP server would receive
    assert b"\nBcc:" not in raw
    assert mail.recipients() == RECIPIENTS


def test_one_line_keeps_plain_text():
    assert one_line("Payments API") == "Payments API"
    assert one_line("a  b", limit=10) == "a b"
    assert one_line("abcdef", limit=4) == "abc…"


def use_smtp(settings, port, timeout=5.0):
    """Send through SMTP to ``port``, configured as this Django version wants."""
    backend = "django.core.mail.backends.smtp.EmailBackend"
    if django.VERSION >= (6, 1):  # MAILERS replaces the EMAIL_* settings.
        options = {"host": "127.0.0.1", "port": port, "timeout": timeout}
        settings.MAILERS = {"default": {"BACKEND": backend, "OPTIONS": options}}
    else:
        settings.EMAIL_BACKEND = backend
        settings.EMAIL_HOST = "127.0.0.1"
        settings.EMAIL_PORT = port
        settings.EMAIL_TIMEOUT = timeout


def test_mail_errors_reach_the_caller(recipients, settings):
    use_smtp(settings, free_port())  # nothing listens there

    with pytest.raises(ConnectionRefusedError):
        IncidentNotifier().send([Change(1, 1, opened=True)], services("A"))


@pytest.mark.asyncio
async def test_async_code_sends_through_the_a_namespace(recipients, mailoutbox):
    notifier = IncidentNotifier()
    threads = []
    send = notifier.send
    notifier.send = lambda *args: threads.append(threading.get_ident()) or send(*args)

    sent = await notifier.a.send([Change(1, 3, opened=True)], services("Search"))

    assert sent == 1
    assert mailoutbox[0].subject == "[status board] Search down"
    # SMTP would block: it ran in a worker thread, not on the event loop.
    assert threads
    assert threads[0] != threading.get_ident()
