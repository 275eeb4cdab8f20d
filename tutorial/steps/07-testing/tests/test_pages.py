"""The board's pages through Django's sync test client."""

import pytest


@pytest.mark.django_db
def test_dashboard_shows_a_tile_per_service(client, demo_services):
    response = client.get("/")
    assert response.status_code == 200
    names = [tile.name for tile in response.context["tiles"]]
    assert names == ["E-mail relay", "Login", "Payments API", "Search"]


@pytest.mark.django_db
def test_service_page_paginates_its_checks(client, demo_services):
    response = client.get("/services/payments/?page=999")
    assert response.status_code == 200
    assert response.context["page"].number == 1


@pytest.mark.django_db
def test_adding_a_service_needs_a_login(client):
    response = client.get("/services/add/")
    assert response.status_code == 302
    assert response["Location"] == "/admin/login/?next=/services/add/"
