"""The status board moved from sync to async, one step at a time.

Shown on docs/guides/migrating.md. The starting point is a sync project: the
sample project's models and templates behind sync views (the three below, and
the sample project's own ``check_all_sync_view``), with startproject's
middleware and one sync-only middleware from a package. Each step of the page is
a :class:`Step`: the views behind four URLs, and a ``MIDDLEWARE`` list. The later
steps swap in the sample project's own async views, one at a time.

A ``Step`` is what a URLconf module is to Django (it has ``urlpatterns``), so
:meth:`Step.active` can name it as ``ROOT_URLCONF`` and run any request against
that step of the project.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable

from asgiref.sync import AsyncToSync
from django.contrib import admin
from django.core.cache import cache
from django.core.paginator import Paginator
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, render
from django.test import AsyncClient, override_settings
from django.urls import include, path

from sampleproject.board.models import Service
from sampleproject.board.pagination import PageInfo
from sampleproject.board.state import (
    CACHE_KEY,
    CACHE_SECONDS,
    tile_from,
    tiles_queryset,
)
from sampleproject.board.views import api, dashboard, events, manage, services
from snippets.internals.hops import count_hops


# start-sync-views
def sync_dashboard(request):
    tiles = cache.get(CACHE_KEY)
    if tiles is None:
        tiles = [tile_from(service) for service in tiles_queryset()]
        cache.set(CACHE_KEY, tiles, CACHE_SECONDS)
    return render(request, "board/dashboard.html", {"tiles": tiles})


def sync_service_detail(request, slug):
    service = get_object_or_404(Service, slug=slug)
    checks = service.checks.order_by("-checked_at")
    paginator = Paginator(checks, 25)
    page = paginator.get_page(request.GET.get("page"))
    context = {
        "service": service,
        "page": PageInfo(list(page), page.number, paginator.num_pages, paginator.count),
        "incidents": list(service.incidents.all()[:10]),
    }
    return render(request, "board/service_detail.html", context)


def sync_summary(request):
    total = Service.objects.count()
    enabled = Service.objects.filter(enabled=True).count()
    return JsonResponse({"services": total, "enabled": enabled})


# end-sync-views


# start-sync-middleware
SYNC_PROJECT_MIDDLEWARE = [
    # From a package written before async views: sync only.
    "sampleproject.board.middleware.BoardVersionMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
# end-sync-middleware


@dataclasses.dataclass(frozen=True, eq=False)  # eq=False: hashable, as Django needs
class Step:
    """One state of the project: the view behind each URL, and MIDDLEWARE."""

    dashboard: Callable
    service: Callable
    summary: Callable
    check_all: Callable
    middleware: list[str]

    def but(self, **changes) -> Step:
        """This step with some views, or the middleware, replaced."""
        return dataclasses.replace(self, **changes)

    @property
    def urlpatterns(self) -> list:
        board = [
            path("", self.dashboard, name="dashboard"),
            path("services/add/", manage.add_service, name="service-add"),
            path("services/<slug:slug>/", self.service, name="service-detail"),
            path("api/summary/", self.summary, name="summary"),
            path("api/check-all/", self.check_all, name="check-all"),
            path("events/", events.events, name="events"),
        ]
        return [
            path("admin/", admin.site.urls),
            path("", include((board, "board"))),
        ]

    def active(self):
        """Settings under which every request goes to this step of the project."""
        return override_settings(ROOT_URLCONF=self, MIDDLEWARE=self.middleware)


# start-steps
# Step 1: the sync project, as it is.
SYNC_PROJECT = Step(
    dashboard=sync_dashboard,
    service=sync_service_detail,
    summary=sync_summary,
    check_all=api.check_all_sync_view,
    middleware=SYNC_PROJECT_MIDDLEWARE,
)
# Step 2 serves SYNC_PROJECT under ASGI: no code changes.
# Step 3: convert the view that waits on many upstreams.
ONE_VIEW_CONVERTED = SYNC_PROJECT.but(check_all=api.check_all_view)
# Step 4: replace the sync-only middleware with one that declares both modes.
MIDDLEWARE_FIXED = ONE_VIEW_CONVERTED.but(
    middleware=[
        "snippets.guides.middleware.board_version_middleware"
        if entry.endswith(".BoardVersionMiddleware")
        else entry
        for entry in SYNC_PROJECT_MIDDLEWARE
    ]
)
# Step 5: the pages that read the database. The summary, one quick query, stays.
REST_CONVERTED = MIDDLEWARE_FIXED.but(
    dashboard=dashboard.dashboard,
    service=services.ServiceDetailView.as_view(),
)
# end-steps

STEPS = {
    "1. sync project": SYNC_PROJECT,
    "3. one view converted": ONE_VIEW_CONVERTED,
    "4. middleware fixed": MIDDLEWARE_FIXED,
    "5. the rest converted": REST_CONVERTED,
}


# start-hops
async def hops(step: Step, url: str) -> int:
    """Thread hops of one GET of ``url`` under ASGI, at ``step``."""
    with step.active():
        client = AsyncClient()
        await client.get(url)  # the first request builds the middleware chain
        with count_hops() as counts:
            response = await client.get(url)
    assert response.status_code == 200, response
    return counts["sync_to_async"] + counts["async_to_sync"]


async def hops_table(urls: list[str]) -> str:
    """One line per step: the hops of each URL."""
    lines = [f"{'':22}" + "".join(f"{url:>21}" for url in urls)]
    for name, step in STEPS.items():
        counts = [await hops(step, url) for url in urls]
        lines.append(f"{name:22}" + "".join(f"{count:>21}" for count in counts))
    return "\n".join(lines)


# end-hops


# start-waiting-threads
def threads_in_async_to_sync() -> int:
    """How many threads wait, right now, in an ``async_to_sync`` call.

    Each is a thread held by sync code that called async code and waits for
    it: under ASGI, a sync-only middleware waiting for the layers below it.
    """
    waiting = 0
    for frame in sys._current_frames().values():
        while frame is not None:
            if frame.f_code is AsyncToSync.__call__.__code__:
                waiting += 1
                break
            frame = frame.f_back
    return waiting


# end-waiting-threads
