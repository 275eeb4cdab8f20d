"""The ORM from async code: ``a``-methods, lazy access, and what each call costs.

Shown on docs/guides/orm.md; bench/guide_data.py times the same functions.
``urlpatterns`` serves the views to the tests and the page's doctests.
"""

from __future__ import annotations

import asyncio

from asgiref.sync import sync_to_async
from django.http import JsonResponse
from django.shortcuts import aget_object_or_404, get_object_or_404
from django.urls import path

from sampleproject.board.models import Check, Incident, Service

RECENT = 20  # checks a status page shows


def status(service, checks, incident, open_incidents) -> dict:
    return {
        "service": service.name,
        "recent": [check.ok for check in checks],
        "incident": incident.cause if incident else None,
        "open_incidents": open_incidents,
    }


async def service_status(request, slug):
    """A typical async view: four awaited queries, so four thread hops."""
    service = await aget_object_or_404(Service, slug=slug)
    checks = [check async for check in service.checks.all()[:RECENT]]
    incident = await service.incidents.filter(closed_at__isnull=True).afirst()
    open_incidents = await Incident.objects.filter(closed_at__isnull=True).acount()
    return JsonResponse(status(service, checks, incident, open_incidents))


def status_data(slug: str) -> dict:
    """The same four queries as plain sync code."""
    service = get_object_or_404(Service, slug=slug)
    checks = list(service.checks.all()[:RECENT])
    incident = service.incidents.filter(closed_at__isnull=True).first()
    open_incidents = Incident.objects.filter(closed_at__isnull=True).count()
    return status(service, checks, incident, open_incidents)


async def service_status_one_hop(request, slug):
    # One sync function, one hop: the four queries share a worker thread trip.
    return JsonResponse(await sync_to_async(status_data)(slug))


def service_status_sync(request, slug):
    return JsonResponse(status_data(slug))


async def latest_check_lazy() -> str:
    check = await Check.objects.afirst()
    # check.service is not loaded: reading it queries, on the event loop.
    return check.service.name


async def latest_check() -> str:
    # select_related() loads the service in the same query, inside the hop.
    check = await Check.objects.select_related("service").afirst()
    return check.service.name


async def counts_in_turn(slugs: list[str]) -> list[int]:
    return [await Check.objects.filter(service__slug=slug).acount() for slug in slugs]


async def counts_gathered(slugs: list[str]) -> list[int]:
    # Looks parallel; every acount() queues for the same worker thread.
    queries = (Check.objects.filter(service__slug=slug).acount() for slug in slugs)
    return list(await asyncio.gather(*queries))


def counts_sync(slugs: list[str]) -> list[int]:
    return [Check.objects.filter(service__slug=slug).count() for slug in slugs]


async def counts_one_hop(slugs: list[str]) -> list[int]:
    return await sync_to_async(counts_sync)(slugs)


urlpatterns = [
    path("status/<slug:slug>/", service_status),
    path("status-one-hop/<slug:slug>/", service_status_one_hop),
    path("status-sync/<slug:slug>/", service_status_sync),
]
