"""Templates in async views: render on the loop, in a thread, or with Jinja2.

Shown on docs/guides/templates.md; bench/guide_data.py times the same
renders. The two engines are built here rather than in settings, so the
sample project's own templates stay as they are. ``urlpatterns`` serves the
views to the tests and the page's doctests.
"""

from __future__ import annotations

from pathlib import Path

from asgiref.sync import sync_to_async
from django.http import HttpResponse
from django.shortcuts import aget_object_or_404, get_object_or_404
from django.template.backends.django import DjangoTemplates
from django.urls import path
from django.utils import timezone

from sampleproject.board.models import Check, Service
from snippets.guides.jinja_async import AsyncJinja2

TEMPLATE_DIRS = [Path(__file__).resolve().parent / "templates"]
PROCESSORS = ["django.contrib.auth.context_processors.auth"]

django_engine = DjangoTemplates(
    {
        "NAME": "guides-django",
        "DIRS": TEMPLATE_DIRS,
        "APP_DIRS": False,
        "OPTIONS": {"context_processors": PROCESSORS},
    }
)
jinja_engine = AsyncJinja2(
    {
        "NAME": "guides-jinja2",
        "DIRS": TEMPLATE_DIRS,
        "APP_DIRS": False,
        # auto_reload would stat the file at every get_template(), on the loop.
        "OPTIONS": {"context_processors": PROCESSORS, "auto_reload": False},
    }
)
PAGE = "guides/checks.html"
JINJA_PAGE = "guides/checks.jinja"


def warm_templates() -> None:
    """Load and render the page once, at import, before any event loop runs.

    A first get_template() reads the file, and a first |date filter reads the
    time zone and the locale's format files: all disk reads, all cached after.
    """
    sample = Check(service=Service(name="warm-up"), checked_at=timezone.now(), ok=True)
    render_checks({"service": sample.service, "checks": [sample]})
    jinja_engine.get_template(JINJA_PAGE)


def render_checks(context: dict, request=None) -> str:
    return django_engine.get_template(PAGE).render(context, request)


warm_templates()


async def checks_page_lazy(request, slug):
    service = await aget_object_or_404(Service, slug=slug)
    # A queryset is lazy: the template's {% for %} runs the query, on the loop.
    context = {"service": service, "checks": service.checks.all()}
    return HttpResponse(render_checks(context, request))


async def checks_page(request, slug):
    service = await aget_object_or_404(Service, slug=slug)
    # Materialized here, in one hop; the render then touches no database.
    checks = [check async for check in service.checks.all()[:100]]
    context = {"service": service, "checks": checks}
    return HttpResponse(render_checks(context, request))


async def checks_page_in_thread(request, slug):
    service = await aget_object_or_404(Service, slug=slug)
    checks = [check async for check in service.checks.all()]
    context = {"service": service, "checks": checks}
    # A long page: render it in a worker thread, so the loop serves others.
    return HttpResponse(await sync_to_async(render_checks)(context, request))


async def checks_page_jinja(request, slug):
    service = await aget_object_or_404(Service, slug=slug)
    # Lazy is fine here: Jinja2's async {% for %} awaits the query (one hop).
    context = {"service": service, "checks": service.checks.all()[:100]}
    template = jinja_engine.get_template(JINJA_PAGE)
    return HttpResponse(await template.render_async(context, request))


def checks_page_sync(request, slug):
    service = get_object_or_404(Service, slug=slug)
    context = {"service": service, "checks": service.checks.all()[:100]}
    return HttpResponse(render_checks(context, request))


urlpatterns = [
    path("checks-lazy/<slug:slug>/", checks_page_lazy),
    path("checks/<slug:slug>/", checks_page),
    path("checks-in-thread/<slug:slug>/", checks_page_in_thread),
    path("checks-jinja/<slug:slug>/", checks_page_jinja),
    path("checks-sync/<slug:slug>/", checks_page_sync),
]
