"""How a reader of the README signs in to add a service under ``make run``.

``make run`` creates no account. The add form sends anonymous users to the
admin's login page, which lets in only staff accounts, so the README and the
quickstart say to run ``createsuperuser``; a plain user is refused there.
"""

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import AsyncClient, Client

ADD = "/services/add/"
LOGIN = "/admin/login/?next=/services/add/"
PASSWORD = "a-long-demo-password-1"


@pytest.fixture(autouse=True)
def password(monkeypatch):
    # createsuperuser reads it when it asks no questions.
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", PASSWORD)


def create_superuser() -> str:
    """What `manage.py createsuperuser` does, without its prompts."""
    call_command(
        "createsuperuser",
        interactive=False,
        username="reader",
        email="reader@example.com",
        verbosity=0,
    )
    return "reader"


def sign_in_form(username: str) -> dict[str, str]:
    return {"username": username, "password": PASSWORD, "next": ADD}


@pytest.mark.django_db
def test_createsuperuser_account_reaches_the_add_form_wsgi():
    client = Client()
    response = client.post(LOGIN, sign_in_form(create_superuser()))
    assert response.status_code == 302
    assert response["Location"] == ADD
    assert client.get(ADD).status_code == 200


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_createsuperuser_account_reaches_the_add_form_asgi():
    username = await sync_to_async(create_superuser)()
    client = AsyncClient()
    response = await client.post(LOGIN, sign_in_form(username))
    assert response.status_code == 302
    assert response["Location"] == ADD
    assert (await client.get(ADD)).status_code == 200


@pytest.mark.django_db
def test_a_user_who_is_not_staff_is_refused_at_the_login_page():
    get_user_model().objects.create_user("plain", password=PASSWORD)
    response = Client().post(LOGIN, sign_in_form("plain"))
    assert response.status_code == 200
    assert "staff account" in response.content.decode()
