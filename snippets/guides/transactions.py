"""Transactions from async code: one sync function, run by ``sync_to_async``.

Shown on docs/guides/transactions.md. Each sync function holds one whole
transaction; the async views await it as one thread hop. ``urlpatterns`` serves
the views to the tests and the page's doctests.
"""

from __future__ import annotations

import logging
from functools import partial

from asgiref.sync import sync_to_async
from django.db import IntegrityError, transaction
from django.http import JsonResponse
from django.shortcuts import get_object_or_404
from django.urls import path
from django.utils import timezone
from django.views.decorators.http import require_POST

from sampleproject.board.models import Check, Incident, Service

logger = logging.getLogger("sampleproject.board")


def retire_service(slug: str) -> int:
    """Disable a service and close its open incident, all or nothing.

    Returns how many incidents were closed (0 or 1).
    """
    with transaction.atomic():
        # On PostgreSQL the row stays locked until COMMIT: a second retire, or
        # an edit in the admin, waits for this one instead of interleaving.
        service = get_object_or_404(Service.objects.select_for_update(), slug=slug)
        closed = service.incidents.filter(closed_at__isnull=True).update(
            closed_at=timezone.now()
        )
        service.enabled = False
        service.save(update_fields=["enabled"])
    return closed


@require_POST
async def retire(request, slug):
    """The async view: the whole transaction is one ``sync_to_async`` call."""
    closed = await sync_to_async(retire_service)(slug)
    return JsonResponse({"service": slug, "closed_incidents": closed})


@require_POST
def retire_sync(request, slug):
    """The sync twin: a sync view can call the same function directly."""
    closed = retire_service(slug)
    return JsonResponse({"service": slug, "closed_incidents": closed})


def declare_outages(slugs: list[str], cause: str) -> list[str]:
    """Open an incident, with a failed check on record, for each service.

    A service that already has an open incident is skipped, and so are its
    writes; the others are committed together. Returns the slugs opened.
    """
    opened = []
    now = timezone.now()
    with transaction.atomic():
        for service in Service.objects.filter(slug__in=slugs).order_by("slug"):
            try:
                # A savepoint: when the incident insert fails, this service's
                # check is rolled back too, and the outer transaction goes on.
                with transaction.atomic():
                    Check.objects.create(service=service, checked_at=now, ok=False)
                    Incident.objects.create(service=service, opened_at=now, cause=cause)
            except IntegrityError:
                # The partial unique constraint: already down.
                continue
            opened.append(service.slug)
    return opened


def close_incident(incident_id: int) -> bool:
    """Close an open incident; log it once the close is committed."""
    with transaction.atomic():
        closed = Incident.objects.filter(pk=incident_id, closed_at__isnull=True).update(
            closed_at=timezone.now()
        )
        if closed:
            # Runs after COMMIT, in this thread; never if the block rolls back.
            transaction.on_commit(
                partial(logger.info, "incident %d closed by hand", incident_id)
            )
    return bool(closed)


async def close_and_count_open(incident_id: int) -> tuple[bool, int]:
    """Close an incident, then read the board after the commit."""
    closed = await sync_to_async(close_incident)(incident_id)
    # The transaction committed before the await returned: async follow-up
    # work goes here, where other connections already see the change.
    still_open = await Incident.objects.filter(closed_at__isnull=True).acount()
    return closed, still_open


@transaction.non_atomic_requests
async def board_summary(request):
    """An async view that still works with ``ATOMIC_REQUESTS`` turned on."""
    return JsonResponse(
        {"open_incidents": await Incident.objects.filter(closed_at=None).acount()}
    )


async def board_summary_unmarked(request):
    """The same view without the marker: Django refuses it."""
    return await board_summary(request)


@transaction.atomic
async def retire_decorated(request, slug):
    """The trap: ``atomic`` does not await, so this view returns a coroutine."""
    await Service.objects.filter(slug=slug).aupdate(enabled=False)
    return JsonResponse({"service": slug})


urlpatterns = [
    path("retire/<slug:slug>/", retire),
    path("retire-sync/<slug:slug>/", retire_sync),
    path("retire-decorated/<slug:slug>/", retire_decorated),
    path("summary/", board_summary),
    path("summary-unmarked/", board_summary_unmarked),
]
