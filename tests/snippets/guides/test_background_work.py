"""Tests of snippets/guides/background_work.py.

Shown on docs/guides/background-work.md.
"""

import asyncio
import gc
import logging
import threading
from datetime import timedelta

import django
import pytest
from django.core.handlers.asgi import ASGIHandler
from django.db.models import QuerySet
from django.test import AsyncClient, Client
from django.urls import path
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from sampleproject.board.demo import seed
from sampleproject.board.models import Check, Service
from snippets.guides import background_work
from snippets.guides.background_work import (
    prune,
    prune_checks,
    prune_fire_and_forget,
    prune_sync,
)
from snippets.internals.request_journey import ASGIConnection

if django.VERSION >= (6, 0):
    from django.tasks import default_task_backend, task
    from django.tasks.exceptions import InvalidTask
else:
    from django_tasks import default_task_backend, task
    from django_tasks.exceptions import InvalidTaskError as InvalidTask

TASKS = "django.tasks" if django.VERSION >= (6, 0) else "django_tasks"

pytestmark = pytest.mark.django_db(transaction=True)

# The real server runs CSRF middleware; these requests come without a token.
urlpatterns = [
    path("prune/", csrf_exempt(prune)),
    path("prune-sync/", csrf_exempt(prune_sync)),
    path("prune-and-forget/", csrf_exempt(prune_fire_and_forget)),
]


@pytest.fixture
def old_checks():
    """Three checks from last year, one from today."""
    search = {service.slug: service for service in seed()}["search"]
    now = timezone.now()
    for age in (400, 390, 380, 0):
        Check.objects.create(
            service=search, checked_at=now - timedelta(days=age), ok=True
        )
    return 3


@pytest.fixture
def watched(monkeypatch):
    """Replace the trap view's coroutine with one that reports what became of it."""
    seen = {"events": [], "done": threading.Event()}

    async def prune_now(keep_days):
        seen["events"].append("started")
        try:
            # Work that takes longer than the response: an upstream call, say.
            await asyncio.sleep(0.3)
            deleted = await background_work.Check.objects.filter(
                checked_at__lt=timezone.now() - timedelta(days=keep_days)
            ).adelete()
        except asyncio.CancelledError:
            seen["events"].append("cancelled")
            raise
        except BaseException as exc:
            seen["events"].append(f"failed: {type(exc).__name__}: {exc}")
            raise
        else:
            seen["events"].append(f"deleted {deleted[0]}")
        finally:
            seen["done"].set()

    monkeypatch.setattr(background_work, "prune_now", prune_now)
    return seen


# The trap: a bare asyncio.create_task


@pytest.mark.urls(__name__)
def test_under_wsgi_the_task_is_cancelled_when_the_response_is_sent(
    old_checks, watched
):
    response = Client().post("/prune-and-forget/")
    assert response.status_code == 202
    assert watched["done"].wait(5)
    # Cancelled at its first await: nothing after it ran, and no one was told.
    assert watched["events"] == ["started", "cancelled"]


@pytest.mark.urls(__name__)
@pytest.mark.asyncio
async def test_under_asgi_the_task_outlives_the_request(old_checks, watched):
    connection = ASGIConnection("/prune-and-forget/", method="POST")
    await connection.serve(ASGIHandler())
    assert connection.status == 202
    await asyncio.to_thread(watched["done"].wait, 5)
    assert watched["events"][0] == "started"
    print(watched["events"])


@pytest.mark.urls(__name__)
def test_under_asgi_the_task_is_cancelled_when_the_server_stops(old_checks, watched):
    async def serve_one_request_then_stop():
        connection = ASGIConnection("/prune-and-forget/", method="POST")
        await connection.serve(ASGIHandler())
        return connection.status

    # A server's main coroutine returns at shutdown; asyncio.run() then
    # cancels every task still pending, as it does for uvicorn.
    status = asyncio.run(serve_one_request_then_stop())
    assert status == 202
    assert watched["events"] == ["started", "cancelled"]


@pytest.mark.asyncio
async def test_a_task_nobody_references_can_be_garbage_collected(monkeypatch, caplog):
    asyncio_logger = logging.getLogger("asyncio")
    monkeypatch.setattr(asyncio_logger, "handlers", [caplog.handler])
    monkeypatch.setattr(asyncio_logger, "propagate", False)

    async def wait_for_a_reply():
        # Nothing but this task holds the future it waits for.
        await asyncio.get_running_loop().create_future()

    asyncio.create_task(wait_for_a_reply())  # noqa: RUF006
    await asyncio.sleep(0)
    gc.collect()
    assert "Task was destroyed but it is pending!" in caplog.text


# The tasks framework


@pytest.fixture
def dummy_backend(settings):
    settings.TASKS = {"default": {"BACKEND": f"{TASKS}.backends.dummy.DummyBackend"}}
    yield default_task_backend
    default_task_backend.clear()


@pytest.mark.urls(__name__)
@pytest.mark.asyncio
async def test_the_immediate_backend_runs_the_task_before_the_response(old_checks):
    response = await AsyncClient().post("/prune/", {"keep": "30"})
    assert response.status_code == 202
    assert response.json()["status"] == "SUCCESSFUL"
    assert await Check.objects.acount() == 1


@pytest.mark.urls(__name__)
def test_the_sync_view_enqueues_under_wsgi(old_checks):
    response = Client().post("/prune-sync/", {"keep": "30"})
    assert response.status_code == 202
    assert response.json()["status"] == "SUCCESSFUL"
    assert Check.objects.count() == 1


@pytest.mark.urls(__name__)
@pytest.mark.asyncio
async def test_the_dummy_backend_queues_and_runs_nothing(old_checks, dummy_backend):
    response = await AsyncClient().post("/prune/", {"keep": "30"})
    assert response.json()["status"] == "READY"
    assert await Check.objects.acount() == 4
    [result] = dummy_backend.results
    assert result.id == response.json()["task"]
    assert result.kwargs == {"keep_days": 30}


@pytest.mark.asyncio
async def test_aenqueue_is_one_thread_hop(old_checks, monkeypatch):
    threads = []
    delete = QuerySet.delete

    def noting_delete(self):
        threads.append(threading.get_ident())
        return delete(self)

    monkeypatch.setattr(QuerySet, "delete", noting_delete)
    result = await prune_checks.aenqueue(keep_days=30)
    assert result.return_value == 3
    [thread] = threads
    assert thread != threading.get_ident()


def test_task_arguments_must_be_json():
    with pytest.raises(TypeError) as raised:
        prune_checks.enqueue(keep_days=timedelta(days=30))
    assert str(raised.value) == "Unsupported type: <class 'datetime.timedelta'>"
    with pytest.raises(TypeError, match="Unsupported type: <class 'sampleproject"):
        prune_checks.enqueue(keep_days=Service(slug="search"))


@pytest.mark.urls(__name__)
@pytest.mark.asyncio
@pytest.mark.parametrize("keep", ["abc", "0", "99999"])
@pytest.mark.parametrize("route", ["/prune/", "/prune-sync/"])
async def test_a_bad_keep_is_a_400_under_asgi(route, keep):
    response = await AsyncClient().post(route, {"keep": keep})
    assert response.status_code == 400
    assert "keep must be a number of days" in response.json()["error"]


@pytest.mark.urls(__name__)
@pytest.mark.parametrize("route", ["/prune/", "/prune-sync/"])
def test_bad_input_is_a_4xx_under_wsgi(route):
    assert Client().post(route, {"keep": "abc"}).status_code == 400
    assert Client().get(route).status_code == 405


@pytest.mark.urls(__name__)
@pytest.mark.asyncio
@pytest.mark.parametrize("route", ["/prune/", "/prune-sync/"])
async def test_get_is_a_405_under_asgi(route):
    assert (await AsyncClient().get(route)).status_code == 405


def test_the_module_serves_its_views():
    assert len(background_work.urlpatterns) == 3


def test_a_task_function_must_be_defined_at_module_level():
    def prune_later(keep_days):
        return keep_days  # pragma: no cover

    with pytest.raises(InvalidTask) as raised:
        task(prune_later)
    assert str(raised.value) == "Task function must be defined at a module level."


@pytest.mark.asyncio
async def test_prune_now_prunes_on_the_callers_loop(old_checks):
    assert await background_work.prune_now(30) == 3
    assert await Check.objects.acount() == 1
