"""Async tests with Django's AsyncClient under pytest-django: one right, one wrong.

The module is its own URLconf: the sample project's URLs plus ``/counts/``, a
view that sends a signal to two async receivers that both use the ORM.
tests/internals/test_test_client.py imports the example tests below, so pytest
collects and runs them there, with the markers you see here.
"""

import contextlib

import pytest
from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.db import connections
from django.dispatch import Signal, receiver
from django.http import JsonResponse
from django.test import AsyncClient
from django.urls import include, path

from sampleproject.board.models import Service

# Two receivers that use the ORM.
board_counted = Signal()


@receiver(board_counted)
async def count_services(sender, **kwargs):
    return await Service.objects.acount()


@receiver(board_counted)
async def count_enabled(sender, **kwargs):
    return await Service.objects.filter(enabled=True).acount()


async def board_counts(request):
    # Django awaits both receivers at once.
    responses = await board_counted.asend(sender=None)
    return JsonResponse({receiver.__name__: count for receiver, count in responses})


# End of the receivers.


urlpatterns = [
    path("counts/", board_counts),
    path("", include("sampleproject.urls")),
]


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_summary_counts_the_service_made_in_the_test():
    await Service.objects.acreate(name="Search", slug="search", url="https://s.test/")
    response = await AsyncClient().get("/api/summary/")
    assert response.json() == {"services": 1, "enabled": 1}


# The trap.
@pytest.fixture
def search_service(db):
    return Service.objects.create(name="Search", slug="search", url="https://s.test/")


@pytest.mark.asyncio
@pytest.mark.django_db  # no transaction=True: the trap
async def test_summary_misses_the_service_made_by_a_sync_fixture(search_service):
    response = await AsyncClient().get("/api/summary/")
    # The fixture's row is in the test's transaction, in the test's thread.
    # The view's queries ran in another thread, on another connection.
    assert response.json() == {"services": 0, "enabled": 0}


# End of the trap.


@contextlib.asynccontextmanager
async def like_asgi_handler():
    """The ThreadSensitiveContext that ASGIHandler opens for every request."""
    async with ThreadSensitiveContext():
        try:
            yield
        finally:
            # The context's thread ends with it. Close its database connections
            # first, as close_old_connections does at request_finished.
            await sync_to_async(connections.close_all)()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@pytest.mark.urls("snippets.internals.client_examples")
async def test_board_counts_in_a_thread_sensitive_context():
    await Service.objects.acreate(name="Search", slug="search", url="https://s.test/")
    async with like_asgi_handler():
        response = await AsyncClient().get("/counts/")
    assert response.json() == {"count_services": 1, "count_enabled": 1}
