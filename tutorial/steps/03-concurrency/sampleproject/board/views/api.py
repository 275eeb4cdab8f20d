"""JSON endpoints: the board summary, and "check everything now" in both styles.

``check_all_view`` is the async way: every service checked at once, so the
response takes about as long as the slowest upstream. ``check_all_sync_view`` is
the sync twin, one service after another, so the response takes about as long
as all of them together. Both store the outcomes, move incidents, and send
``checks_recorded``; both need a logged-in user and a POST.
"""

import time

from django.conf import settings
from django.http import JsonResponse
from django.views.decorators.http import require_POST

from sampleproject.board.checker import check_all
from sampleproject.board.checksync import check_all_sync
from sampleproject.board.models import Service
from sampleproject.board.recording import record, record_sync
from sampleproject.board.signals import checks_recorded

LOGIN_FIRST = {"error": "log in to run checks"}


async def summary(request):
    # Each await hands the event loop back while the database answers.
    total = await Service.objects.acount()
    enabled = await Service.objects.filter(enabled=True).acount()
    return JsonResponse({"services": total, "enabled": enabled})


def report(services, outcomes, changes, started) -> dict:
    slugs = {service.pk: service.slug for service in services}
    return {
        "checked": len(outcomes),
        "ok": sum(outcome.ok for outcome in outcomes),
        "elapsed_ms": round((time.perf_counter() - started) * 1000, 1),
        "results": [
            {"slug": slugs[outcome.service_id], **outcome.as_json()}
            for outcome in outcomes
        ],
        "incidents": [change.as_json() for change in changes],
    }


@require_POST
async def check_all_view(request):
    if not (await request.auser()).is_authenticated:
        return JsonResponse(LOGIN_FIRST, status=403)
    started = time.perf_counter()
    services = [service async for service in Service.objects.filter(enabled=True)]
    outcomes = await check_all(services, deadline=settings.BOARD_CHECK_DEADLINE)
    changes = await record(outcomes)
    await checks_recorded.asend(sender=Service, outcomes=outcomes, changes=changes)
    return JsonResponse(report(services, outcomes, changes, started))


@require_POST
def check_all_sync_view(request):
    if not request.user.is_authenticated:
        return JsonResponse(LOGIN_FIRST, status=403)
    started = time.perf_counter()
    services = list(Service.objects.filter(enabled=True))
    outcomes = check_all_sync(services, deadline=settings.BOARD_CHECK_DEADLINE)
    changes = record_sync(outcomes)
    checks_recorded.send(sender=Service, outcomes=outcomes, changes=changes)
    return JsonResponse(report(services, outcomes, changes, started))
