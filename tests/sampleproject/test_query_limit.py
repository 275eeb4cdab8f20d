"""Over DATA_UPLOAD_MAX_NUMBER_FIELDS (1,000) query parameters: 400, or 500 in debug.

Reading ``request.GET`` raises ``TooManyFieldsSent``. With DEBUG off, Django
answers 400. With DEBUG on (``make run``), it answers with its technical page,
which lists ``request.GET``: reading it raises again, inside the error page,
and the exception leaves Django. The server then answers a plain 500 (uvicorn:
``Internal Server Error``). The README and the quickstart say so.
"""

import pytest
from django.core.exceptions import TooManyFieldsSent
from django.test import AsyncClient, Client, override_settings

from sampleproject.board.models import Service


def page_with_fields(count: int) -> str:
    # The service page reads ?page=, so it parses the query string.
    return "/services/payments/?" + "&".join(f"f{i}=1" for i in range(count))


@pytest.fixture
def service(db):
    return Service.objects.create(
        name="Payments", slug="payments", url="http://127.0.0.1:8001/svc/payments"
    )


@pytest.mark.parametrize("debug", [False, True], ids=["debug-off", "debug-on"])
def test_a_thousand_fields_are_read(service, debug):
    with override_settings(DEBUG=debug):
        assert Client().get(page_with_fields(1000)).status_code == 200


@override_settings(DEBUG=False)
def test_more_is_a_400_without_debug_wsgi(service):
    response = Client().get(page_with_fields(1001))
    assert response.status_code == 400


@override_settings(DEBUG=True)
def test_more_is_a_500_with_debug_wsgi(service):
    # Even a client that asks for the error response gets none: there is none.
    with pytest.raises(TooManyFieldsSent):
        Client(raise_request_exception=False).get(page_with_fields(1001))


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_more_is_a_400_without_debug_asgi():
    await Service.objects.acreate(
        name="Payments", slug="payments", url="http://127.0.0.1:8001/svc/payments"
    )
    with override_settings(DEBUG=False):
        response = await AsyncClient().get(page_with_fields(1001))
    assert response.status_code == 400


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_more_is_a_500_with_debug_asgi():
    await Service.objects.acreate(
        name="Payments", slug="payments", url="http://127.0.0.1:8001/svc/payments"
    )
    client = AsyncClient(raise_request_exception=False)
    with override_settings(DEBUG=True), pytest.raises(TooManyFieldsSent):
        await client.get(page_with_fields(1001))
