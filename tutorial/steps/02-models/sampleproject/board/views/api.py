"""JSON endpoints: the board summary."""

from django.http import JsonResponse

from sampleproject.board.models import Service


async def summary(request):
    # Each await hands the event loop back while the database answers.
    total = await Service.objects.acount()
    enabled = await Service.objects.filter(enabled=True).acount()
    return JsonResponse({"services": total, "enabled": enabled})
