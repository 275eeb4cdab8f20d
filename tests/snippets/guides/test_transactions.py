"""Tests of snippets/guides/transactions.py, shown on docs/guides/transactions.md.

They run on SQLite and, with ``DATABASE_URL`` set, on PostgreSQL; the tests
marked ``needs_service("postgres")`` show row locks, which SQLite does not take.
"""

import asyncio
import contextlib
import inspect
import threading
from inspect import iscoroutinefunction

import pytest
from asgiref.sync import sync_to_async
from django.core.exceptions import SynchronousOnlyOperation
from django.core.handlers.base import BaseHandler
from django.db import (
    IntegrityError,
    OperationalError,
    connection,
    connections,
    transaction,
)
from django.db.models import QuerySet
from django.db.transaction import TransactionManagementError
from django.test import AsyncClient, Client
from django.utils import timezone

from sampleproject.board.demo import seed
from sampleproject.board.models import Check, Incident, Service
from snippets.guides import transactions
from snippets.guides.transactions import (
    close_and_count_open,
    close_incident,
    declare_outages,
    retire_decorated,
    retire_service,
)

URLS = "snippets.guides.transactions"

pytestmark = [pytest.mark.urls(URLS), pytest.mark.django_db(transaction=True)]


@pytest.fixture
def services():
    return {service.slug: service for service in seed()}


@pytest.fixture
def search_down(services):
    return Incident.objects.create(
        service=services["search"], opened_at=timezone.now(), cause="Timed out"
    )


@contextlib.contextmanager
def atomic_requests(alias="default"):
    """Turn ATOMIC_REQUESTS on for one database, as the setting would."""
    settings_dict = connections.settings[alias]
    settings_dict["ATOMIC_REQUESTS"] = True
    try:
        yield
    finally:
        settings_dict["ATOMIC_REQUESTS"] = False


# The recipe


@pytest.mark.asyncio
async def test_the_async_view_retires_a_service_in_one_transaction(search_down):
    response = await AsyncClient().post("/retire/search/")
    assert response.status_code == 200
    assert response.json() == {"service": "search", "closed_incidents": 1}
    service = await Service.objects.aget(slug="search")
    assert not service.enabled
    assert not await Incident.objects.filter(closed_at=None).aexists()


def test_the_sync_view_retires_a_service_under_wsgi(search_down):
    response = Client().post("/retire-sync/search/")
    assert response.json() == {"service": "search", "closed_incidents": 1}
    assert not Service.objects.get(slug="search").enabled


@pytest.mark.asyncio
@pytest.mark.parametrize("route", ["/retire/nope/", "/retire-sync/nope/"])
async def test_an_unknown_service_is_a_404_under_asgi(services, route):
    assert (await AsyncClient().post(route)).status_code == 404


@pytest.mark.parametrize("route", ["/retire/nope/", "/retire-sync/nope/"])
def test_an_unknown_service_is_a_404_under_wsgi(services, route):
    assert Client().post(route).status_code == 404


@pytest.mark.parametrize("route", ["/retire/search/", "/retire-sync/search/"])
def test_retire_only_accepts_post(services, route):
    assert Client().get(route).status_code == 405
    assert Service.objects.get(slug="search").enabled


@pytest.mark.asyncio
async def test_a_failure_late_in_the_function_rolls_back_every_step(
    search_down, monkeypatch
):
    def fail(self, *args, **kwargs):
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(Service, "save", fail)
    with pytest.raises(RuntimeError, match="the disk is full"):
        await sync_to_async(retire_service)("search")
    # The incident was closed by an UPDATE before save() failed: rolled back.
    assert await Incident.objects.filter(closed_at=None).acount() == 1


@pytest.mark.asyncio
async def test_the_function_runs_in_one_thread_off_the_event_loop(
    search_down, monkeypatch
):
    threads = []
    original = Service.save

    def save(self, *args, **kwargs):
        threads.append((threading.get_ident(), connection.in_atomic_block))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Service, "save", save)
    await sync_to_async(retire_service)("search")
    [(thread, in_atomic_block)] = threads
    assert thread != threading.get_ident()
    assert in_atomic_block


# What goes wrong


@pytest.mark.asyncio
async def test_atomic_in_async_code_raises_synchronous_only_operation(services):
    with pytest.raises(SynchronousOnlyOperation, match="use a thread or sync_to_async"):  # noqa: SIM117
        with transaction.atomic():
            await Service.objects.filter(slug="search").aupdate(enabled=False)
    assert await Service.objects.filter(enabled=True).acount() == 4


@pytest.mark.asyncio
async def test_async_with_atomic_is_a_type_error(services):
    with pytest.raises(TypeError, match="asynchronous context manager protocol"):
        async with transaction.atomic():
            pass  # pragma: no cover


def test_atomic_makes_an_async_view_look_sync():
    assert not iscoroutinefunction(retire_decorated)
    coroutine = retire_decorated(None, "search")
    # atomic() entered and left around a call that only made this coroutine.
    assert inspect.iscoroutine(coroutine)
    coroutine.close()


def test_django_refuses_the_coroutine_that_view_returns():
    coroutine = retire_decorated(None, "search")
    try:
        with pytest.raises(ValueError, match="unawaited coroutine") as raised:
            BaseHandler().check_response(coroutine, retire_decorated)
    finally:
        coroutine.close()
    assert str(raised.value) == (
        "The view snippets.guides.transactions.retire_decorated didn't return an"
        " HttpResponse object. It returned an unawaited coroutine instead. You may"
        " need to add an 'await' into your view."
    )


@pytest.mark.asyncio
async def test_atomic_requests_refuses_an_async_view(services):
    with atomic_requests(), pytest.raises(RuntimeError) as raised:
        await AsyncClient().get("/summary-unmarked/")
    assert str(raised.value) == "You cannot use ATOMIC_REQUESTS with async views."


def test_atomic_requests_refuses_an_async_view_under_wsgi_too(services):
    with atomic_requests(), pytest.raises(RuntimeError, match="ATOMIC_REQUESTS"):
        Client().get("/summary-unmarked/")


@pytest.mark.asyncio
async def test_non_atomic_requests_lets_an_async_view_run(services):
    with atomic_requests():
        response = await AsyncClient().get("/summary/")
    assert response.json() == {"open_incidents": 0}


@pytest.mark.asyncio
async def test_atomic_requests_still_wraps_a_sync_view(search_down):
    with atomic_requests():
        response = await AsyncClient().post("/retire-sync/search/")
    assert response.status_code == 200


@pytest.mark.asyncio
async def test_on_commit_from_async_code_raises(services):
    with pytest.raises(SynchronousOnlyOperation):
        transaction.on_commit(lambda: None)


# select_for_update


@pytest.mark.asyncio
async def test_select_for_update_outside_a_transaction(services):
    queryset = Service.objects.select_for_update()
    if connection.vendor == "sqlite":
        # SQLite has no row locks: Django leaves FOR UPDATE out, and says nothing.
        assert (await queryset.aget(slug="search")).slug == "search"
        return
    with pytest.raises(TransactionManagementError, match="outside of a transaction"):
        await queryset.aget(slug="search")


@pytest.mark.needs_service("postgres")
def test_retire_holds_the_row_lock_until_it_commits(search_down, monkeypatch):
    locked, release = threading.Event(), threading.Event()
    original = Service.save

    def save(self, *args, **kwargs):
        # Pause inside retire_service's transaction, after its SELECT.
        locked.set()
        release.wait(10)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Service, "save", save)

    def retire_and_close():
        try:
            retire_service("search")
        finally:
            # Hand the thread's connection back to the pool.
            connections.close_all()

    worker = threading.Thread(target=retire_and_close)
    worker.start()
    try:
        assert locked.wait(10)
        with (
            pytest.raises(
                OperationalError,
                match='could not obtain lock on row in relation "board_service"',
            ),
            transaction.atomic(),
        ):
            Service.objects.select_for_update(nowait=True).get(slug="search")
    finally:
        release.set()
        worker.join(10)
    assert not Service.objects.get(slug="search").enabled


# Savepoints and on_commit


def open_again_then_count(service):
    """A second open incident, caught, then one more query: no savepoint."""
    with transaction.atomic():
        with contextlib.suppress(IntegrityError):
            Incident.objects.create(
                service=service, opened_at=timezone.now(), cause="again"
            )
        return Check.objects.count()


def test_without_a_savepoint_django_refuses_the_next_query(search_down):
    with pytest.raises(TransactionManagementError) as raised:
        open_again_then_count(search_down.service)
    assert str(raised.value) == (
        "An error occurred in the current transaction. You can't execute queries"
        " until the end of the 'atomic' block."
    )
    # The outer block rolled back: still one incident.
    assert Incident.objects.count() == 1


def test_a_savepoint_skips_only_the_service_already_down(search_down):
    opened = declare_outages(["payments", "search"], "Maintenance")
    assert opened == ["payments"]
    assert Incident.objects.filter(closed_at=None).count() == 2
    # Search's check was rolled back with its incident; payments' was kept.
    assert list(Check.objects.values_list("service__slug", flat=True)) == ["payments"]


@pytest.mark.asyncio
async def test_savepoints_work_through_sync_to_async(search_down):
    opened = await sync_to_async(declare_outages)(["login", "search"], "Maintenance")
    assert opened == ["login"]
    assert await Incident.objects.filter(service__slug="login").aexists()


@pytest.mark.asyncio
async def test_on_commit_runs_after_commit_in_the_worker_thread(search_down, caplog):
    caplog.set_level("INFO", logger="sampleproject.board")
    assert await close_and_count_open(search_down.pk) == (True, 0)
    [record] = [r for r in caplog.records if "closed by hand" in r.getMessage()]
    assert record.getMessage() == f"incident {search_down.pk} closed by hand"
    assert record.thread != threading.get_ident()


def test_on_commit_does_not_run_when_the_transaction_rolls_back(search_down, caplog):
    caplog.set_level("INFO", logger="sampleproject.board")
    with contextlib.suppress(RuntimeError), transaction.atomic():
        assert close_incident(search_down.pk)
        raise RuntimeError("roll it all back")
    assert not [r for r in caplog.records if "closed by hand" in r.getMessage()]
    assert Incident.objects.get(pk=search_down.pk).is_open


def test_the_module_serves_its_views():
    assert {str(p.pattern) for p in transactions.urlpatterns} >= {"retire/<slug:slug>/"}


def test_the_decorated_views_body_runs_after_the_transaction(services, monkeypatch):
    in_atomic_block = []
    update = QuerySet.update

    def noting_update(self, **kwargs):
        in_atomic_block.append(connection.in_atomic_block)
        return update(self, **kwargs)

    monkeypatch.setattr(QuerySet, "update", noting_update)
    coroutine = retire_decorated(None, "search")  # atomic() has come and gone
    response = asyncio.run(coroutine)
    assert response.status_code == 200
    assert in_atomic_block == [False]


@pytest.mark.asyncio
async def test_without_atomic_requests_the_unmarked_view_answers(services):
    response = await AsyncClient().get("/summary-unmarked/")
    assert response.json() == {"open_incidents": 0}


def test_closing_a_closed_incident_changes_nothing(search_down, caplog):
    caplog.set_level("INFO", logger="sampleproject.board")
    assert close_incident(search_down.pk)
    assert not close_incident(search_down.pk)
    assert len([r for r in caplog.records if "closed by hand" in r.getMessage()]) == 1
