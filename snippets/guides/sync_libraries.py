"""Calling a library that has no async API from async code.

Shown on docs/guides/sync-libraries.md. :class:`StatusPageClient` stands in for
a vendor's SDK (boto3, a payment provider's client): sync only, built on
``requests``, with a session of its own. The async views await it through
``sync_to_async(thread_sensitive=False)`` on a thread pool of its own; the
ORM work next to it stays thread-sensitive. ``urlpatterns`` serves the views
to the tests.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from functools import cache

import requests
from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import aget_object_or_404, get_object_or_404
from django.urls import path

from sampleproject.board.models import Service


# start-sdk
class StatusPageClient:
    """A vendor's status-page SDK: sync only, built on requests."""

    def __init__(self, base_url: str, timeout: float = 5.0):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        # requests does not promise that a Session is thread-safe, so each
        # thread that calls the client gets a Session of its own.
        self._local = threading.local()

    @property
    def session(self) -> requests.Session:
        if not hasattr(self._local, "session"):
            self._local.session = requests.Session()
        return self._local.session

    def component_status(self, component: str) -> str:
        """The vendor's status for one component, e.g. "operational"."""
        response = self.session.get(
            f"{self.base_url}/components/{component}", timeout=self.timeout
        )
        response.raise_for_status()
        return response.json()["status"]


# end-sdk


@cache
def statuspage() -> StatusPageClient:
    """The process's one client, built on first use."""
    return StatusPageClient(
        getattr(settings, "STATUSPAGE_URL", "https://status.example.com/api")
    )


# start-executor
# The SDK's own threads: a slow vendor fills these, not the event loop's
# default executor, which every thread_sensitive=False call shares.
STATUSPAGE_EXECUTOR = ThreadPoolExecutor(max_workers=8, thread_name_prefix="statuspage")


def fetch_component_status(component: str) -> str:
    return statuspage().component_status(component)


# No ORM and no thread-bound state inside, so any thread will do.
component_status = sync_to_async(
    fetch_component_status, thread_sensitive=False, executor=STATUSPAGE_EXECUTOR
)
# end-executor


def open_incident_count(service: Service) -> int:
    return service.incidents.filter(closed_at__isnull=True).count()


def upstream_error(exc: requests.RequestException) -> JsonResponse:
    # The vendor failing is not our server failing: a 502, not a 500.
    return JsonResponse({"error": f"status page unavailable: {exc}"}, status=502)


async def service_health(request, slug):
    """The async view: the SDK call and the ORM query run at the same time."""
    service = await aget_object_or_404(Service, slug=slug)
    try:
        vendor, open_incidents = await asyncio.gather(
            component_status(service.slug),
            # The ORM needs the thread-sensitive thread: keep the default.
            sync_to_async(open_incident_count)(service),
        )
    except requests.RequestException as exc:
        return upstream_error(exc)
    return JsonResponse(
        {"service": slug, "vendor": vendor, "open_incidents": open_incidents}
    )


def service_health_sync(request, slug):
    """The sync twin: the same calls, one after the other, no hop."""
    service = get_object_or_404(Service, slug=slug)
    try:
        vendor = fetch_component_status(service.slug)
    except requests.RequestException as exc:
        return upstream_error(exc)
    return JsonResponse(
        {
            "service": slug,
            "vendor": vendor,
            "open_incidents": open_incident_count(service),
        }
    )


urlpatterns = [
    path("health/<slug:slug>/", service_health),
    path("health-sync/<slug:slug>/", service_health_sync),
]
