"""Tests for sampleproject/board/receivers.py, through both of Django's dispatch paths.

``asend()`` (async senders) runs the sync receiver in a worker thread;
``send()`` (sync senders) runs the async receivers with ``async_to_sync``. Each
path is tested end to end: tiles published, incidents e-mailed and logged.
"""

import asyncio
import contextlib
import logging
import threading
from datetime import timedelta

import django
import pytest
from asgiref.sync import ThreadSensitiveContext, async_to_sync, sync_to_async
from django.db import connections
from django.utils import timezone

from sampleproject.board import receivers
from sampleproject.board.memorybroadcast import InMemoryBroadcaster
from sampleproject.board.models import Check, Service
from sampleproject.board.notify import outbox
from sampleproject.board.outcome import Outcome
from sampleproject.board.receivers import (
    CHANNEL,
    RECEIVERS,
    connect_receivers,
    disconnect_receivers,
    log_changes,
    notify_incidents,
    publish_outcomes,
)
from sampleproject.board.recording import Change, record_sync
from sampleproject.board.signals import checks_recorded
from tests.sampleproject.test_notify import use_smtp
from tests.support.servers import free_port

RECIPIENTS = ["oncall@example.com"]
LOGGER = "sampleproject.board"
TIMEOUT = 5


def connected_uids():
    return [key[0] for key, *_ in checks_recorded.receivers if key[0] in RECEIVERS]


@pytest.fixture
def connected():
    """The receivers connected, and afterwards as they were (ready() connects them)."""
    before = connected_uids()
    connect_receivers()
    connect_receivers()  # again, as an autoreload or a second ready() would
    yield
    disconnect_receivers()
    if before:
        connect_receivers()


@pytest.fixture
def broadcaster(monkeypatch):
    """A fresh in-memory broadcaster, so event ids start at 1 in every test."""
    fresh = InMemoryBroadcaster()
    monkeypatch.setattr(receivers, "get_broadcaster", lambda: fresh)
    return fresh


@pytest.fixture
def recipients(settings):
    settings.BOARD_INCIDENT_RECIPIENTS = RECIPIENTS
    return RECIPIENTS


@pytest.fixture
def board_log(caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)
    return caplog


@contextlib.asynccontextmanager
async def thread_sensitive():
    """What Django's ASGI handler wraps around a request, cleanup included."""
    async with ThreadSensitiveContext():
        try:
            yield
        finally:
            # The context's thread goes away with it: so must its connections.
            await sync_to_async(connections.close_all)()


def ours(responses):
    """The responses of this module's receivers, by receiver name."""
    mine = set(RECEIVERS.values())
    return {r.__name__: response for r, response in responses if r in mine}


async def published(broadcaster):
    """Every event published on the board channel so far, in order."""
    await broadcaster.publish(CHANNEL, {}, kind="end-of-test")
    events = []
    async with broadcaster.subscribe(CHANNEL, last_event_id=0) as subscription:
        async with asyncio.timeout(TIMEOUT):
            async for event in subscription:
                if event.kind == "end-of-test":
                    return events
                events.append(event)
    raise AssertionError("the subscription ended early")  # pragma: no cover


def make_board():
    """Payments goes down, Search recovers: one incident opened, one closed.

    Returns the services, the latest batch of outcomes and its changes.
    """
    payments = Service.objects.create(
        name="Payments API", slug="payments", url="https://pay.example/"
    )
    search = Service.objects.create(
        name="Search", slug="search", url="https://search.example/"
    )
    earlier = timezone.now() - timedelta(minutes=1)
    record_sync([Outcome(search.pk, earlier, ok=False, error=Check.Error.TIMEOUT)])
    now = timezone.now()
    outcomes = [
        Outcome(
            payments.pk,
            now,
            ok=False,
            status_code=500,
            error=Check.Error.STATUS,
            latency_ms=12.5,
        ),
        Outcome(search.pk, now, ok=True, status_code=200, latency_ms=3.0),
    ]
    return payments, search, outcomes, record_sync(outcomes)


def assert_tiles(events, outcomes):
    assert [event.kind for event in events] == ["check", "check"]
    payments, search = (event.data for event in events)
    checked_at = outcomes[0].checked_at.isoformat()
    assert payments == {
        "slug": "payments",
        "name": "Payments API",
        "url": "https://pay.example/",
        "state": "down",
        "ok": False,
        "status_code": 500,
        "error": "status",
        "error_label": "Unexpected status",
        "latency_ms": 12.5,
        "checked_at": checked_at,
        "incident_open": True,
    }
    assert search["slug"] == "search"
    assert search["state"] == "up"
    assert search["incident_open"] is False
    assert search["checked_at"] == checked_at


def assert_mail(mailoutbox):
    assert outbox.join(timeout=5)  # the outbox's thread sends it
    [mail] = mailoutbox
    assert mail.subject == "[status board] Payments API down; Search recovered"
    assert mail.to == RECIPIENTS


def assert_logged(board_log, changes):
    opened, closed = changes
    messages = [
        (r.levelno, r.getMessage()) for r in board_log.records if r.name == LOGGER
    ]
    assert messages == [
        (
            logging.WARNING,
            f"incident {opened.incident_id} opened: Payments API is down"
            " (Unexpected status: HTTP 500)",
        ),
        (logging.INFO, f"incident {closed.incident_id} closed: Search recovered"),
    ]


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_asend_runs_every_receiver_once(
    connected, broadcaster, recipients, mailoutbox, board_log
):
    _, _, outcomes, changes = await sync_to_async(make_board)()

    async with thread_sensitive():
        responses = await checks_recorded.asend(
            sender=Service, outcomes=outcomes, changes=changes
        )
        worker = await sync_to_async(threading.get_ident)()

    assert ours(responses) == {
        "log_changes": None,
        "publish_outcomes": 2,
        "notify_incidents": 1,
    }
    assert_tiles(await published(broadcaster), outcomes)
    await asyncio.to_thread(assert_mail, mailoutbox)
    assert_logged(board_log, changes)
    # The sync receiver ran where the ORM runs for async code, off the loop.
    assert {r.thread for r in board_log.records if r.name == LOGGER} == {worker}
    assert worker != threading.get_ident()


@pytest.mark.django_db
def test_send_from_sync_code_runs_the_async_receivers_too(
    connected, broadcaster, recipients, mailoutbox, board_log
):
    # No transaction=True needed: async_to_sync runs the async receivers'
    # thread-sensitive ORM calls back in this thread, on this connection.
    _, _, outcomes, changes = make_board()

    responses = checks_recorded.send(sender=Service, outcomes=outcomes, changes=changes)

    assert ours(responses) == {
        "log_changes": None,
        "publish_outcomes": 2,
        "notify_incidents": 1,
    }
    assert_tiles(async_to_sync(published)(broadcaster), outcomes)
    assert_mail(mailoutbox)
    assert_logged(board_log, changes)
    assert {r.thread for r in board_log.records if r.name == LOGGER} == {
        threading.get_ident()
    }


def test_connecting_again_adds_no_receiver(connected):
    connect_receivers()
    assert sorted(connected_uids()) == sorted(RECEIVERS)
    disconnect_receivers()
    assert connected_uids() == []


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_mail_failure_is_logged_not_raised(
    connected, broadcaster, recipients, settings, board_log
):
    use_smtp(settings, free_port())  # nothing listens there
    _, _, outcomes, changes = await sync_to_async(make_board)()

    async with thread_sensitive():
        responses = await checks_recorded.asend(
            sender=Service, outcomes=outcomes, changes=changes
        )

    assert ours(responses)["notify_incidents"] == 1  # queued
    assert await asyncio.to_thread(outbox.join, 5)
    [failure] = [r for r in board_log.records if r.levelno == logging.ERROR]
    assert failure.getMessage() == "could not e-mail 2 incident change(s)"
    assert isinstance(failure.exc_info[1], ConnectionRefusedError)
    assert len(await published(broadcaster)) == 2  # the others did their work


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_no_recipients_no_mail(settings, mailoutbox):
    settings.BOARD_INCIDENT_RECIPIENTS = []
    _, _, outcomes, changes = await sync_to_async(make_board)()

    assert await notify_incidents(Service, outcomes=outcomes, changes=changes) == 0
    assert mailoutbox == []


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_services_off_the_board_get_no_tile(broadcaster):
    off = await Service.objects.acreate(
        name="Off", slug="off", url="https://off.example/", enabled=False
    )
    outcomes = [
        Outcome(off.pk, timezone.now(), ok=True, status_code=200),
        Outcome(off.pk + 1000, timezone.now(), ok=True, status_code=200),  # deleted
    ]

    assert await publish_outcomes(Service, outcomes=outcomes, changes=[]) == 0
    assert await published(broadcaster) == []


@pytest.mark.asyncio
async def test_empty_batches_do_nothing(broadcaster, recipients, mailoutbox):
    assert await publish_outcomes(Service, outcomes=[], changes=[]) == 0
    assert await notify_incidents(Service, outcomes=[], changes=[]) == 0
    assert log_changes(Service, outcomes=[], changes=[]) is None
    assert mailoutbox == []


@pytest.mark.django_db
def test_log_changes_of_deleted_incidents_and_odd_names(board_log):
    odd = Service.objects.create(
        name="Evil\nFAKE LOG LINE", slug="odd", url="https://o.example/"
    )
    [opened] = record_sync([Outcome(odd.pk, timezone.now(), ok=False, error="timeout")])

    log_changes(Service, outcomes=[], changes=[opened, Change(odd.pk, 999_999, False)])

    assert [r.getMessage() for r in board_log.records] == [
        f"incident {opened.incident_id} opened: Evil FAKE LOG LINE is down (Timed out)",
        "incident 999999 closed: a deleted service recovered",
    ]


@pytest.mark.django_db
def test_a_deleted_incident_that_opened_is_logged_too(board_log):
    log_changes(Service, outcomes=[], changes=[Change(5, 888_888, opened=True)])

    [record_] = board_log.records
    assert record_.getMessage() == (
        "incident 888888 opened: a deleted service is down (unknown cause)"
    )


# How Django runs mixed receivers: what receivers.py's docstring says, shown.


@pytest.fixture
def temporary_receivers():
    connected = []

    def connect(receiver):
        uid = f"test.{receiver.__name__}"
        checks_recorded.connect(receiver, dispatch_uid=uid)
        connected.append(uid)

    yield connect
    for uid in connected:
        checks_recorded.disconnect(dispatch_uid=uid)


SEQUENTIAL = django.VERSION >= (6, 1)


@pytest.mark.asyncio
async def test_asend_runs_sync_receivers_before_or_beside_async_ones(
    temporary_receivers,
):
    async_started = threading.Event()
    seen = {}

    def sync_receiver(sender, **kwargs):
        # Waits a little for the async receiver: it starts meanwhile only if
        # Django runs the two groups at the same time.
        seen["overlap"] = async_started.wait(0.5)

    async def async_receiver(sender, **kwargs):
        async_started.set()

    temporary_receivers(sync_receiver)
    temporary_receivers(async_receiver)

    await checks_recorded.asend(sender=None, outcomes=[], changes=[])

    assert seen["overlap"] is not SEQUENTIAL


@pytest.mark.asyncio
async def test_a_failing_async_receiver_and_its_siblings(temporary_receivers):
    sibling_done = asyncio.Event()
    fate = []

    async def failing(sender, **kwargs):
        raise RuntimeError("receiver bug")

    async def slow(sender, **kwargs):
        try:
            await asyncio.sleep(0.1)
            fate.append("finished")
        except asyncio.CancelledError:
            fate.append("cancelled")
            raise
        finally:
            sibling_done.set()

    temporary_receivers(failing)
    temporary_receivers(slow)

    with pytest.raises(RuntimeError, match="receiver bug"):
        await checks_recorded.asend(sender=None, outcomes=[], changes=[])
    async with asyncio.timeout(TIMEOUT):
        await sibling_done.wait()

    assert fate == (["cancelled"] if SEQUENTIAL else ["finished"])


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_asend_outside_a_thread_sensitive_context(
    connected, broadcaster, recipients, mailoutbox
):
    # Outside ASGI (a command, a test, Django's AsyncClient) there is no
    # ThreadSensitiveContext: thread-sensitive sync_to_async uses asgiref's
    # one process-wide thread and guards it with a context variable. Django
    # 6.1 runs all async receivers in one shared contextvars.Context, so two
    # receivers using the ORM at once trip that guard.
    _, _, outcomes, changes = await sync_to_async(make_board)()

    send = checks_recorded.asend(sender=Service, outcomes=outcomes, changes=changes)
    if SEQUENTIAL:
        with pytest.raises(RuntimeError, match="would deadlock"):
            await send
    else:
        assert len(ours(await send)) == 3
