"""``manage.py runchecks`` and its Scheduler, against the fake upstream.

Every wait has a timeout; services that must be "in flight" when something
happens are slow or hanging on the fake upstream, and the tests wait for the
request to arrive there (or for the check to start) rather than sleeping.
"""

import asyncio
import contextlib
import io
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest
import pytest_asyncio
from asgiref.sync import sync_to_async
from django.core.management import CommandError, call_command
from django.utils import timezone

from sampleproject.board import scheduler as scheduling
from sampleproject.board.checker import check_service
from sampleproject.board.httpclient import make_async_client
from sampleproject.board.management.commands.runchecks import stop_on_signals
from sampleproject.board.models import Check, Incident, Service
from sampleproject.board.outcome import Outcome
from sampleproject.board.receivers import connect_receivers
from sampleproject.board.scheduler import Scheduler, describe
from tests.sampleproject.conftest import service_on
from tests.support.servers import ROOT, stop

TIMEOUT = 10


def create(*services):
    Service.objects.bulk_create(services)


def checks_by_slug():
    return {
        check.service.slug: (check.ok, check.error, check.status_code)
        for check in Check.objects.select_related("service")
    }


def open_incidents():
    return set(
        Incident.objects.filter(closed_at__isnull=True).values_list(
            "service__slug", flat=True
        )
    )


def wait_for(condition, what, timeout=TIMEOUT):
    """Wait until ``condition()`` holds, in another thread or process."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


class Recorder:
    """A ``check`` for the Scheduler: the real one, watched."""

    def __init__(self, check=check_service):
        self.check = check
        self.started = []
        self.in_flight = self.most_in_flight = 0
        self.changed = asyncio.Event()

    async def __call__(self, client, service):
        self.started.append(service.slug)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        self.changed.set()
        try:
            return await self.check(client, service)
        finally:
            self.in_flight -= 1

    async def wait_until(self, condition):
        async with asyncio.timeout(TIMEOUT):
            while not condition():
                self.changed.clear()
                await self.changed.wait()


@contextlib.asynccontextmanager
async def running(scheduler, **options):
    """Run ``scheduler`` in a task; on the way out it must have finished."""
    task = asyncio.create_task(scheduler.run(**options))
    try:
        yield task
        async with asyncio.timeout(TIMEOUT):
            await task
    finally:
        if not task.done():  # the body failed: do not leave the task behind
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


@pytest_asyncio.fixture
async def client():
    async with make_async_client() as client:
        yield client


@pytest.fixture
def receivers_connected():
    # BoardConfig.ready() connects them already; this test must not depend on it.
    connect_receivers()


# --once: one round of every enabled service.


@pytest.mark.django_db(transaction=True)
def test_once_checks_every_service_and_moves_incidents(
    upstream, closed_port_url, settings, mailoutbox, receivers_connected
):
    settings.BOARD_INCIDENT_RECIPIENTS = ["oncall@example.com"]
    upstream.behaviours.set("broken", status=500)
    upstream.behaviours.set("hangs", mode="hang")
    create(
        service_on(upstream, "ok"),
        service_on(upstream, "broken"),
        service_on(upstream, "hangs", timeout=0.5),
        service_on(upstream, "refused", url=closed_port_url),
        service_on(upstream, "off", enabled=False),
    )
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    out = io.StringIO()

    call_command("runchecks", "--once", stdout=out)

    assert checks_by_slug() == {
        "ok": (True, "", 200),
        "broken": (False, "status", 500),
        "hangs": (False, "timeout", None),
        "refused": (False, "connect", None),
    }
    assert open_incidents() == {"broken", "hangs", "refused"}
    lines = out.getvalue().splitlines()
    assert lines[-1] == "Checked 4 service(s): 1 up, 3 down."
    assert any(line.startswith("  broken: down (HTTP 500, ") for line in lines)
    assert any(line.startswith("  hangs: down (timeout, ") for line in lines)
    # The receivers ran, inside the command's thread-sensitive context.
    [mail] = mailoutbox
    assert mail.subject == "[status board] Broken down; Hangs down; Refused down"
    # The command put the signal handlers back as it found them.
    assert {sig: signal.getsignal(sig) for sig in handlers} == handlers

    upstream.behaviours.set("broken", status=200)
    call_command("runchecks", "--once", verbosity=0, stdout=out)

    assert open_incidents() == {"hangs", "refused"}
    assert Check.objects.count() == 8


@pytest.mark.django_db(transaction=True)
def test_once_with_no_services():
    out = io.StringIO()

    call_command("runchecks", "--once", stdout=out)

    assert out.getvalue() == "Checked 0 service(s): 0 up, 0 down.\n"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--concurrency", "0"], "--concurrency must be at least 1, got 0"),
        (["--concurrency", "many"], "argument --concurrency: invalid int value"),
        (["--max-rounds", "0"], "--max-rounds must be at least 1, got 0"),
        (["--refresh", "0"], "--refresh must be a number of seconds more than zero"),
        (["--refresh", "nan"], "--refresh must be a number of seconds more than zero"),
        (["--grace", "-1"], "--grace must be a number of seconds zero or more"),
        (["--duration", "inf"], "--duration must be a number of seconds more than"),
        (["--once", "--max-rounds", "2"], "cannot be combined with --max-rounds"),
        (["--once", "--duration", "5"], "cannot be combined with --max-rounds or"),
    ],
)
def test_bad_options_are_command_errors(options, message):
    with pytest.raises(CommandError, match=message.replace("(", r"\(")):
        call_command("runchecks", *options)


def test_describe():
    now = timezone.now()
    assert describe(Outcome(1, now, ok=True, status_code=200, latency_ms=12.4)) == (
        "up (HTTP 200, 12 ms)"
    )
    assert describe(Outcome(1, now, ok=False, error="timeout")) == "down (timeout)"


# The Scheduler: concurrency, intervals, refreshes, failures.


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_the_semaphore_limits_checks_in_flight(upstream, client):
    slugs = [f"slow{i}" for i in range(6)]
    for slug in slugs:
        upstream.behaviours.set(slug, delay=0.15)
    await sync_to_async(create)(*(service_on(upstream, slug) for slug in slugs))
    recorder = Recorder()

    scheduler = await Scheduler(client, concurrency=2, check=recorder).run(once=True)

    assert recorder.most_in_flight == 2
    assert scheduler.checks == scheduler.ok == 6
    assert [upstream.behaviours.hits(slug) for slug in slugs] == [1] * 6
    assert await Check.objects.acount() == 6


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_each_service_keeps_its_own_interval(upstream, client):
    often, rarely = service_on(upstream, "often"), service_on(upstream, "rarely")
    often.interval = timedelta(seconds=0.1)
    rarely.interval = timedelta(minutes=5)
    await sync_to_async(create)(often, rarely)
    recorder = Recorder()

    scheduler = await Scheduler(client, min_interval=0.05, check=recorder).run(
        max_rounds=3
    )

    assert scheduler.rounds == 3
    assert sorted(recorder.started) == ["often", "often", "often", "rarely"]
    assert await Check.objects.filter(service__slug="often").acount() == 3


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_refresh_picks_up_added_changed_and_disabled_services(upstream, client):
    await sync_to_async(create)(
        service_on(upstream, "dropped"), service_on(upstream, "sped-up")
    )
    recorder = Recorder()
    scheduler = Scheduler(client, refresh=0.05, min_interval=0.05, check=recorder)

    async with running(scheduler):
        await recorder.wait_until(lambda: len(recorder.started) == 2)
        await Service.objects.filter(slug="dropped").aupdate(enabled=False)
        await Service.objects.filter(slug="sped-up").aupdate(
            interval=timedelta(seconds=0.1)
        )
        await Service.objects.acreate(
            name="Added", slug="added", url=upstream.service_url("added")
        )
        await recorder.wait_until(
            lambda: (
                "added" in recorder.started and recorder.started.count("sped-up") >= 2
            )
        )
        scheduler.stop()

    assert recorder.started.count("dropped") == 1
    assert set(scheduler.slots) == set(
        await sync_to_async(
            lambda: set(
                Service.objects.filter(enabled=True).values_list("pk", flat=True)
            )
        )()
    )


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_failed_refresh_keeps_the_known_services(upstream, client, caplog):
    await sync_to_async(create)(service_on(upstream, "known"))
    scheduler = Scheduler(client, refresh=0.05)
    load = scheduler.load_services
    failed = asyncio.Event()

    async def flaky_load():
        if scheduler.slots:  # the first load works, the next ones fail
            failed.set()
            raise ConnectionError("database went away")
        await load()

    scheduler.load_services = flaky_load

    async with running(scheduler):
        async with asyncio.timeout(TIMEOUT):
            await failed.wait()
        scheduler.stop()

    assert "could not re-read the services; keeping 1" in caplog.text
    assert len(scheduler.slots) == 1


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_an_unexpected_error_fails_one_check(upstream, client, caplog):
    await sync_to_async(create)(
        service_on(upstream, "buggy"), service_on(upstream, "ok")
    )

    async def check(client, service):
        if service.slug == "buggy":
            raise RuntimeError("a bug in the checker")
        return await check_service(client, service)

    scheduler = await Scheduler(client, check=check).run(once=True)

    assert "checking buggy failed unexpectedly" in caplog.text
    assert scheduler.checks == 1
    assert await sync_to_async(checks_by_slug)() == {"ok": (True, "", 200)}


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_round_with_no_outcome_records_nothing(upstream, client):
    await sync_to_async(create)(service_on(upstream, "buggy"))

    async def check(client, service):
        raise RuntimeError("a bug in the checker")

    scheduler = await Scheduler(client, check=check).run(once=True)

    assert (scheduler.rounds, scheduler.checks, scheduler.failed_rounds) == (1, 0, 0)
    assert await Check.objects.acount() == 0


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_an_unexpected_error_fails_one_round(
    upstream, client, caplog, monkeypatch
):
    await sync_to_async(create)(service_on(upstream, "ok"))

    async def broken_record(outcomes):
        raise RuntimeError("database is read-only")

    monkeypatch.setattr(scheduling, "record", broken_record)

    scheduler = await Scheduler(client).run(once=True)

    assert scheduler.failed_rounds == 1
    assert "a round of 1 check(s) failed" in caplog.text


# Stopping: what is in flight finishes, what is queued does not start.


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_stop_finishes_checks_in_flight_and_skips_queued_ones(upstream, client):
    upstream.behaviours.set("first", delay=0.3)
    upstream.behaviours.set("second", delay=0.3)
    await sync_to_async(create)(
        service_on(upstream, "first"), service_on(upstream, "second")
    )
    recorder = Recorder()
    scheduler = Scheduler(client, concurrency=1, check=recorder)

    async with running(scheduler):
        await recorder.wait_until(lambda: recorder.in_flight == 1)
        scheduler.stop()

    assert (scheduler.checks, scheduler.skipped, scheduler.abandoned) == (1, 1, 0)
    assert len(recorder.started) == 1
    assert await Check.objects.acount() == 1


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("how", ["second stop", "grace expired", "cancelled"])
async def test_checks_in_flight_are_abandoned(upstream, client, how):
    upstream.behaviours.set("hangs", mode="hang")
    await sync_to_async(create)(service_on(upstream, "hangs", timeout=30))
    recorder = Recorder()
    scheduler = Scheduler(
        client, grace=0.2 if how == "grace expired" else 30, check=recorder
    )
    started = time.monotonic()

    task = asyncio.create_task(scheduler.run())
    try:
        await recorder.wait_until(lambda: recorder.in_flight == 1)
        scheduler.stop()
        if how == "second stop":
            scheduler.stop()
        elif how == "cancelled":
            task.cancel()
        async with asyncio.timeout(TIMEOUT):
            with contextlib.suppress(asyncio.CancelledError):
                await task
    finally:
        task.cancel()

    assert time.monotonic() - started < 5  # neither the grace nor the timeout
    assert scheduler.abandoned == 1
    assert await Check.objects.acount() == 0


def test_signals_stay_untouched_outside_the_main_thread():
    async def installed():
        with stop_on_signals(lambda signum: None) as installed:
            return installed

    results = []
    thread = threading.Thread(target=lambda: results.append(asyncio.run(installed())))
    thread.start()
    thread.join(TIMEOUT)

    assert results == [False]


# Signals: in this process (SIGINT), and in a real one (SIGTERM).


def interrupt_when(condition):
    """Send SIGINT to this process once ``condition()`` holds, from a thread."""
    sent = threading.Event()

    def watch():
        with contextlib.suppress(AssertionError):
            wait_for(condition, "the check to start")
            # Unhandled, SIGINT would interrupt the whole test run instead.
            if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
                os.kill(os.getpid(), signal.SIGINT)
                sent.set()

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread, sent


@pytest.mark.django_db(transaction=True)
def test_sigint_stops_gracefully(upstream):
    upstream.behaviours.set("slow", delay=0.5)
    create(service_on(upstream, "slow"))
    watcher, sent = interrupt_when(lambda: upstream.behaviours.hits("slow") == 1)
    out = io.StringIO()

    call_command("runchecks", "--duration", "20", "--grace", "5", stdout=out)
    watcher.join(TIMEOUT)

    assert sent.is_set()
    assert out.getvalue().splitlines() == [
        "Stopping (SIGINT): no new checks; waiting up to 5 s for 1 check(s) in flight.",
        "Stopped after 1 round(s): 1 check(s) stored.",
    ]
    assert checks_by_slug() == {"slow": (True, "", 200)}


@pytest.mark.django_db(transaction=True)
def test_a_second_sigint_cancels_checks_in_flight(upstream):
    upstream.behaviours.set("hangs", mode="hang")
    create(service_on(upstream, "hangs", timeout=30))
    watcher, sent = interrupt_when(lambda: upstream.behaviours.hits("hangs") == 1)
    out, err = io.StringIO(), io.StringIO()

    def interrupt_again():
        # Once the first signal was handled, so the two are not merged.
        if sent.wait(TIMEOUT):
            wait_for(lambda: "Stopping (" in out.getvalue(), "the first signal")
            if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
                os.kill(os.getpid(), signal.SIGINT)

    second = threading.Thread(target=interrupt_again, daemon=True)
    second.start()

    call_command("runchecks", "--duration", "20", stdout=out, stderr=err)
    watcher.join(TIMEOUT)
    second.join(TIMEOUT)

    assert out.getvalue().splitlines() == [
        "Stopping (SIGINT): no new checks;"
        " waiting up to 10 s for 1 check(s) in flight.",
        "Stopping now (SIGINT again): cancelling 1 check(s) in flight.",
        "Stopped after 1 round(s): 0 check(s) stored.",
    ]
    assert err.getvalue() == "1 check(s) abandoned, 0 round(s) failed (see the log).\n"


def test_sigterm_stops_a_real_process_gracefully(upstream, tmp_path):
    upstream.behaviours.set("slow", delay=1.0)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "sampleproject.settings.dev",
        "STATUSBOARD_DATA_DIR": str(tmp_path),
        "DATABASE_URL": "",
        "REDIS_URL": "",
    }
    manage = [sys.executable, "sampleproject/manage.py"]
    setup = (
        "from django.core.management import call_command;"
        "call_command('migrate', verbosity=0);"
        "from sampleproject.board.models import Service;"
        "Service.objects.create(name='Slow', slug='slow',"
        f" url={upstream.service_url('slow')!r})"
    )
    subprocess.run(
        [*manage, "shell", "-c", setup],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=60,
    )
    process = subprocess.Popen(
        [*manage, "runchecks", "--duration", "30"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        wait_for(
            lambda: upstream.behaviours.hits("slow") == 1 or process.poll() is not None,
            "the check to reach the fake upstream",
        )
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=TIMEOUT)
    finally:
        stop(process)

    assert process.returncode == 0, stderr
    assert stdout.splitlines() == [
        "Stopping (SIGTERM): no new checks;"
        " waiting up to 10 s for 1 check(s) in flight.",
        "Stopped after 1 round(s): 1 check(s) stored.",
    ]
    with contextlib.closing(sqlite3.connect(tmp_path / "statusboard.sqlite3")) as db:
        rows = db.execute(
            "SELECT c.ok, c.status_code FROM board_check c"
            " JOIN board_service s ON s.id = c.service_id WHERE s.slug = 'slow'"
        ).fetchall()
    assert rows == [(1, 200)]
