"""The dashboard and the admin, on both paths."""

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import User
from django.test import AsyncClient, Client
from django.utils import timezone

from sampleproject.board.models import Check, Incident, Service


def make_board():
    search, bold, _ = Service.objects.bulk_create(
        [
            Service(name="Search", slug="search", url="https://a.example/"),
            Service(name="<b>Bold</b>", slug="bold", url="https://b.example/"),
            Service(name="Off", slug="off", url="https://c.example/", enabled=False),
        ]
    )
    now = timezone.now()
    Check.objects.create(
        service=search, checked_at=now, ok=True, status_code=200, latency_ms=41.6
    )
    Check.objects.create(service=bold, checked_at=now, ok=False, error="timeout")
    Incident.objects.create(service=bold, opened_at=now, cause="Timed out")


def assert_dashboard(response):
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="tile-search" data-slug="search" data-state="up"' in html
    assert "HTTP 200 in 42 ms" in html
    assert 'id="tile-bold" data-slug="bold" data-state="down"' in html
    assert '<span class="detail">Timed out</span>' in html
    assert "&lt;b&gt;Bold&lt;/b&gt;" in html  # escaped, never markup
    assert "<b>Bold</b>" not in html
    assert html.count("incident open") == 1
    assert "tile-off" not in html  # disabled services are not on the board
    assert 'data-events-url="/events/"' in html


@pytest.mark.django_db
def test_dashboard_through_wsgi():
    make_board()
    assert_dashboard(Client().get("/"))


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_dashboard_through_asgi():
    await sync_to_async(make_board)()
    assert_dashboard(await AsyncClient().get("/"))


@pytest.mark.django_db
def test_dashboard_is_cached_briefly_and_forgotten_on_change(django_assert_num_queries):
    make_board()
    client = Client()
    client.get("/")
    with django_assert_num_queries(0):
        client.get("/")  # tiles from the cache; no session for an anonymous user
    from django.core.cache import cache

    from sampleproject.board.state import CACHE_KEY

    assert len(cache.get(CACHE_KEY)) == 2


@pytest.mark.django_db
def test_empty_board():
    assert "No services yet." in Client().get("/").content.decode()


@pytest.mark.django_db
def test_logged_in_user_sees_their_name_and_the_add_link():
    client = Client()
    client.force_login(User.objects.create_user("alice"))
    html = client.get("/").content.decode()
    assert '<span class="who">alice</span>' in html
    assert 'href="/services/add/"' in html


@pytest.mark.django_db
def test_admin_through_wsgi(admin_client):
    make_board()
    response = admin_client.get("/admin/board/service/")
    assert response.status_code == 200
    assert "&lt;b&gt;Bold&lt;/b&gt;" in response.content.decode()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_admin_sync_views_work_through_asgi():
    await sync_to_async(make_board)()
    admin = await sync_to_async(User.objects.create_superuser)(
        "root", "r@x.example", "pw"
    )
    client = AsyncClient()
    await client.aforce_login(admin)
    listing = await client.get("/admin/board/service/")
    assert listing.status_code == 200
    assert "3 services" in listing.content.decode()
    login = await AsyncClient().get("/admin/login/")
    assert login.status_code == 200
    assert 'name="username"' in login.content.decode()
