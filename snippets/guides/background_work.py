"""Work after the response: a task for a queue, not a bare asyncio task.

Shown on docs/guides/background-work.md. ``prune_checks`` deletes old checks;
the views queue it and answer ``202 Accepted`` at once. ``urlpatterns`` serves
the views to the tests.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from django.http import JsonResponse
from django.urls import path
from django.utils import timezone

try:
    from django.tasks import task  # New in Django 6.0.
except ImportError:  # Django 5.2: the django-tasks backport, same API.
    from django_tasks import task

from sampleproject.board.models import Check

MAX_KEEP_DAYS = 3650


@task
def prune_checks(keep_days: int) -> int:
    """Delete the checks older than ``keep_days`` days; return how many."""
    cutoff = timezone.now() - timedelta(days=keep_days)
    deleted, _ = Check.objects.filter(checked_at__lt=cutoff).delete()
    return deleted


def keep_days_from(request) -> int | None:
    """The ``keep`` parameter, in days, or None when it is not a sane number."""
    try:
        keep_days = int(request.POST.get("keep", "30"))
    except ValueError:
        return None
    return keep_days if 1 <= keep_days <= MAX_KEEP_DAYS else None


BAD_KEEP = {"error": f"keep must be a number of days from 1 to {MAX_KEEP_DAYS}"}


def accepted(result) -> JsonResponse:
    return JsonResponse({"task": result.id, "status": result.status}, status=202)


async def prune(request):
    """The async view: queue the task, answer at once."""
    if request.method != "POST":
        return JsonResponse({"error": "POST only"}, status=405)
    keep_days = keep_days_from(request)
    if keep_days is None:
        return JsonResponse(BAD_KEEP, status=400)
    result = await prune_checks.aenqueue(keep_days=keep_days)
    return accepted(result)


def prune_sync(request):
    """The sync twin, with ``enqueue()``."""
    if request.method != "POST":
        return JsonResponse({"error": "POST only"}, status=405)
    keep_days = keep_days_from(request)
    if keep_days is None:
        return JsonResponse(BAD_KEEP, status=400)
    return accepted(prune_checks.enqueue(keep_days=keep_days))


async def prune_now(keep_days: int) -> int:
    """Prune with the async ORM, in the caller's event loop."""
    cutoff = timezone.now() - timedelta(days=keep_days)
    deleted, _ = await Check.objects.filter(checked_at__lt=cutoff).adelete()
    return deleted


async def prune_fire_and_forget(request):
    """The trap: the response goes out, and nothing owns this task."""
    asyncio.create_task(prune_now(30))  # noqa: RUF006
    return JsonResponse({"status": "started"}, status=202)


urlpatterns = [
    path("prune/", prune),
    path("prune-sync/", prune_sync),
    path("prune-and-forget/", prune_fire_and_forget),
]
