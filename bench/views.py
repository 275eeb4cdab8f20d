"""The views the benchmark requests: trivial, and a small read plus a render."""

from django.http import HttpResponse
from django.shortcuts import render

from sampleproject.board.models import Service

BODY = b"ok"


def trivial_sync(request):
    return HttpResponse(BODY)


async def trivial_async(request):
    return HttpResponse(BODY)


def services_sync(request):
    services = list(Service.objects.filter(enabled=True))
    return render(request, "bench/services.html", {"services": services})


async def services_async(request):
    services = [service async for service in Service.objects.filter(enabled=True)]
    return render(request, "bench/services.html", {"services": services})
