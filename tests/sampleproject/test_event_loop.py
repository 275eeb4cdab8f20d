"""The board's event loop never waits on a file, a mail server or an orphan task.

- the HTTP client (and its CA bundle) is built once per loop, off the loop, at
  start-up, and every check-all on that loop reuses it;
- incident e-mails go through the outbox's thread: a mail server that stalls
  delays neither a check-all response nor the checker's next round;
- a cancelled ``check_all`` leaves no check running.
"""

import asyncio
import contextlib
import socket
import ssl
import threading
import time
from datetime import timedelta

import django
import httpx
import pytest
from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.contrib.auth.models import User
from django.test import AsyncClient, Client
from django.utils import timezone

from sampleproject import asgi
from sampleproject.board import checker
from sampleproject.board.checker import check_all
from sampleproject.board.httpclient import make_async_client, ssl_context
from sampleproject.board.models import Service
from sampleproject.board.notify import outbox
from sampleproject.board.outcome import Outcome
from sampleproject.board.scheduler import Scheduler
from tests.sampleproject.conftest import service_on
from tests.sampleproject.test_notify import use_smtp

TIMEOUT = 10


@contextlib.asynccontextmanager
async def lifespan(app):
    """Start ``app`` as an ASGI server would; stop it on the way out."""
    inbox: asyncio.Queue = asyncio.Queue()
    sent: list[str] = []
    answered = asyncio.Event()

    async def send(message):
        sent.append(message["type"])
        answered.set()

    await inbox.put({"type": "lifespan.startup"})
    serving = asyncio.create_task(app({"type": "lifespan"}, inbox.get, send))
    async with asyncio.timeout(TIMEOUT):
        await answered.wait()
    assert sent == ["lifespan.startup.complete"]
    try:
        yield
    finally:
        await inbox.put({"type": "lifespan.shutdown"})
        async with asyncio.timeout(TIMEOUT):
            await serving
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]


@pytest.fixture
def ca_loads(monkeypatch):
    """The threads that load CA certificates, from a fresh SSL context on."""
    ssl_context.cache_clear()
    threads: list[int] = []
    # httpx loads the bundle through this (load_verify_locations is C code,
    # and the blocking guard patches it already).
    create = ssl.create_default_context

    def spy(*args, **kwargs):
        threads.append(threading.get_ident())
        return create(*args, **kwargs)

    monkeypatch.setattr(ssl, "create_default_context", spy)
    yield threads
    ssl_context.cache_clear()  # not one built with the spy


@pytest.fixture
def clients_used(monkeypatch):
    clients: list[httpx.AsyncClient] = []
    check_service = checker.check_service

    async def spy(client, service):
        clients.append(client)
        return await check_service(client, service)

    monkeypatch.setattr(checker, "check_service", spy)
    return clients


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_check_all_reuses_one_client_built_off_the_loop(
    upstream, ca_loads, clients_used
):
    await Service.objects.acreate(
        **{
            field: getattr(service_on(upstream, "ok"), field)
            for field in ("name", "slug", "url", "interval", "timeout")
        }
    )
    client = AsyncClient()
    await client.aforce_login(await User.objects.acreate(username="ops"))
    async with lifespan(asgi.application):
        for _ in range(2):
            async with ThreadSensitiveContext():
                response = await client.post("/api/check-all/")
            assert response.json()["ok"] == 1

    loop_thread = threading.get_ident()
    assert ca_loads, "the spy saw no CA bundle load at all"
    assert loop_thread not in ca_loads
    first, second = clients_used
    assert first is second
    assert first.is_closed  # by the shut-down


@pytest.mark.asyncio
async def test_without_a_start_up_check_all_still_loads_no_file_on_the_loop(
    ca_loads, clients_used
):
    # A sync server runs each async view on an event loop of its own.
    [outcome] = await check_all([Service(pk=1, url="http://[::1]:0/")], deadline=5)
    assert not outcome.ok
    assert ca_loads
    assert threading.get_ident() not in ca_loads
    assert clients_used[0].is_closed  # a client for one run is closed after it


@pytest.mark.asyncio
async def test_a_cancelled_check_all_leaves_no_check_running():
    started = asyncio.Event()

    async def hang(request):
        started.set()
        await asyncio.Event().wait()  # an upstream that never answers

    client = make_async_client(httpx.MockTransport(hang))
    services = [Service(pk=n, url=f"http://s{n}.example/", timeout=30) for n in (1, 2)]
    before = asyncio.all_tasks()
    run = asyncio.create_task(check_all(services, deadline=30, client=client))
    async with asyncio.timeout(TIMEOUT):
        await started.wait()
    run.cancel()  # as when the browser goes away mid-request
    with pytest.raises(asyncio.CancelledError):
        await run
    leftovers = asyncio.all_tasks() - before
    for task in leftovers:  # so that a failure does not leak into other tests
        task.cancel()
    assert leftovers == set()
    await client.aclose()


# A mail server that accepts connections and never answers.


@pytest.fixture
def stalled_smtp(settings):
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        # The connection is accepted by the kernel; no greeting ever comes.
        use_smtp(settings, server.getsockname()[1], timeout=20)
        settings.BOARD_INCIDENT_RECIPIENTS = ["oncall@example.com"]
        yield
    # Closed: the stalled send gets a reset at once, so the test ends now.
    assert outbox.join(timeout=TIMEOUT)


def failing_service(upstream):
    upstream.behaviours.set("broken", status=500)
    return service_on(upstream, "broken")


@pytest.mark.django_db
@pytest.mark.parametrize("view", ["/api/check-all/", "/api/check-all-sync/"])
def test_a_stalled_mail_server_does_not_delay_check_all_wsgi(
    view, upstream, stalled_smtp
):
    failing_service(upstream).save()
    client = Client()
    client.force_login(User.objects.create_user("ops"))
    started = time.monotonic()
    report = client.post(view).json()
    elapsed = time.monotonic() - started
    assert [change["state"] for change in report["incidents"]] == ["opened"]
    assert elapsed < 2  # inline, the send would wait 20 s for the server


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_stalled_mail_server_does_not_delay_check_all_asgi(
    upstream, stalled_smtp
):
    await sync_to_async(lambda: failing_service(upstream).save())()
    client = AsyncClient()
    await client.aforce_login(await User.objects.acreate(username="ops"))
    started = time.monotonic()
    # As Django's ASGI handler does for each request (see receivers.py).
    async with asyncio.timeout(TIMEOUT), ThreadSensitiveContext():
        report = (await client.post("/api/check-all/")).json()
    elapsed = time.monotonic() - started
    assert [change["state"] for change in report["incidents"]] == ["opened"]
    assert elapsed < 2  # inline, the send would wait 20 s for the server


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_stalled_mail_server_does_not_delay_the_next_round(
    upstream, stalled_smtp
):
    service = failing_service(upstream)
    service.interval = timedelta(0)
    await sync_to_async(service.save)()

    async def fail(client, service):
        return Outcome(service.pk, timezone.now(), ok=False, error="timeout")

    # The first round opens an incident and e-mails it; the service is due
    # again every 0.2 s.
    scheduler = Scheduler(None, min_interval=0.2, grace=0.1, check=fail)
    async with asyncio.timeout(TIMEOUT):
        await scheduler.run(duration=1.5)
    # Inline, the first round would wait for the mail server until the end.
    assert scheduler.rounds >= 4


# Why not Django's tasks framework (new in 6.0): its two built-in backends.

ran_in: list[int] = []


def record_thread() -> None:
    ran_in.append(threading.get_ident())


if django.VERSION >= (6, 0):
    from django.tasks import task

    # A backend finds a task by its import path: it must be this module's.
    record_thread = task(record_thread)


@pytest.mark.needs_django(6, 0)
@pytest.mark.parametrize(
    ("backend", "runs_in_caller"),
    [("immediate.ImmediateBackend", True), ("dummy.DummyBackend", False)],
)
def test_django_task_backends_run_in_the_caller_or_never(
    backend, runs_in_caller, settings
):
    settings.TASKS = {"default": {"BACKEND": f"django.tasks.backends.{backend}"}}
    ran_in.clear()
    record_thread.enqueue()
    # ImmediateBackend: done before enqueue() returns, so the caller waited.
    assert ran_in == ([threading.get_ident()] if runs_in_caller else [])
