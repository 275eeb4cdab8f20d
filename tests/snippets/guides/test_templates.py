"""Tests of snippets/guides/templates.py and jinja_async.py, shown on
docs/guides/templates.md."""

import asyncio
import time

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import SynchronousOnlyOperation
from django.test import AsyncClient, AsyncRequestFactory, Client
from django.utils import timezone

from sampleproject.board.demo import seed
from sampleproject.board.models import Check
from snippets.guides import templates
from snippets.guides.templates import jinja_engine, render_checks
from snippets.internals.hops import count_hops

URLS = "snippets.guides.templates"

pytestmark = [pytest.mark.urls(URLS), pytest.mark.django_db(transaction=True)]


@pytest.fixture
def services():
    services = {service.slug: service for service in seed()}
    now = timezone.now()
    Check.objects.bulk_create(
        Check(service=services["search"], checked_at=now, status_code=200, ok=True)
        for _ in range(3)
    )
    return services


def rows(html: str) -> int:
    return html.count("<tr ")


@pytest.mark.asyncio
@pytest.mark.parametrize("route", ["checks", "checks-in-thread", "checks-jinja"])
async def test_each_async_view_renders_the_checks(services, route):
    response = await AsyncClient().get(f"/{route}/search/")
    assert response.status_code == 200
    assert rows(response.content.decode()) == 3
    assert "<h1>Search</h1>" in response.content.decode()


def test_the_sync_view_renders_the_checks_under_wsgi(services):
    response = Client().get("/checks-sync/search/")
    assert rows(response.content.decode()) == 3


@pytest.mark.asyncio
@pytest.mark.parametrize("route", ["checks", "checks-in-thread", "checks-jinja"])
async def test_an_unknown_service_is_a_404_under_asgi(services, route):
    assert (await AsyncClient().get(f"/{route}/nope/")).status_code == 404


def test_an_unknown_service_is_a_404_under_wsgi(services):
    assert Client().get("/checks-sync/nope/").status_code == 404


@pytest.mark.asyncio
async def test_a_lazy_queryset_fails_in_the_template(services):
    request = AsyncRequestFactory().get("/checks-lazy/search/")
    with pytest.raises(SynchronousOnlyOperation):
        await templates.checks_page_lazy(request, "search")


@pytest.mark.asyncio
async def test_the_django_render_makes_no_hop(services):
    checks = [check async for check in Check.objects.all()]
    with count_hops() as hops:
        html = render_checks({"service": services["search"], "checks": checks})
    assert rows(html) == 3
    assert hops["sync_to_async"] == 0


@pytest.mark.asyncio
async def test_the_jinja_template_awaits_its_query_in_one_hop(services):
    template = jinja_engine.get_template(templates.JINJA_PAGE)
    context = {"service": services["search"], "checks": Check.objects.all()}
    with count_hops() as hops:
        html = await template.render_async(context)
    assert rows(html) == 3
    assert hops["sync_to_async"] == 1


@pytest.mark.asyncio
async def test_the_render_blocks_the_loop_and_the_thread_render_does_not(services):
    checks = [check async for check in Check.objects.all()] * 2000
    context = {"service": services["search"], "checks": checks}
    lags = []

    async def probe():
        for _ in range(50):
            asked = time.perf_counter()
            await asyncio.sleep(0.001)
            lags.append(time.perf_counter() - asked)

    async def worst_lag(render):
        lags.clear()
        task = asyncio.create_task(probe())
        await asyncio.sleep(0.005)
        started = time.perf_counter()
        await render()
        took = time.perf_counter() - started
        await task
        return max(lags), took

    async def on_loop():
        render_checks(context)

    async def in_thread():
        from asgiref.sync import sync_to_async

        await sync_to_async(render_checks)(context)

    blocked, took = await worst_lag(on_loop)
    # The probe could not run for the whole render.
    assert blocked >= took * 0.9
    free, took = await worst_lag(in_thread)
    # In a thread the loop keeps ticking (GIL switches every 5 ms).
    assert free < took / 2


@pytest.mark.asyncio
async def test_the_auth_context_processor_queries_the_session(services):
    user = await User.objects.acreate_user("ada", password="pw")
    client = AsyncClient()
    await client.aforce_login(user)
    request = AsyncRequestFactory().get("/checks/search/")
    request.session = client.session
    from django.contrib.auth.middleware import AuthenticationMiddleware

    AuthenticationMiddleware(lambda r: None).process_request(request)
    template = templates.django_engine.from_string("{{ user.username }}")
    with pytest.raises(SynchronousOnlyOperation):
        template.render({}, request)
    # Loaded first, with auser(), the user in the context wins.
    assert template.render({"user": await request.auser()}, request) == "ada"


def test_an_include_is_loaded_once_then_served_from_the_cache(monkeypatch):
    from django.template.loaders.filesystem import Loader

    reads = []
    original = Loader.get_contents

    def get_contents(self, origin):
        reads.append(origin.template_name)
        return original(self, origin)

    monkeypatch.setattr(Loader, "get_contents", get_contents)
    page = templates.django_engine.from_string('{% include "guides/checks.html" %}')
    page.render({"checks": []})
    page.render({"checks": []})
    # warm_templates() loaded it at import: the cached loader reads no file.
    assert reads == []
    templates.django_engine.engine.template_loaders[0].reset()
    page.render({"checks": []})
    page.render({"checks": []})
    # Once the cache is cleared, the first render reads the file, the next none.
    assert reads == ["guides/checks.html"]
    templates.warm_templates()


def test_jinja_auto_reload_follows_debug_unless_turned_off(settings):
    settings.DEBUG = True
    params = {"NAME": "t", "DIRS": templates.TEMPLATE_DIRS, "APP_DIRS": False}
    # Django's backend turns auto_reload on with DEBUG: a stat at every load.
    assert templates.AsyncJinja2({**params, "OPTIONS": {}}).env.auto_reload
    assert not jinja_engine.env.auto_reload
