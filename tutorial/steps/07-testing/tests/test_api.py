"""The JSON endpoints through Django's async test client."""

import pytest


# transaction=True: the view's queries run in another thread, on another
# database connection, which sees only committed rows.
@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_summary_counts_the_services(async_client, demo_services):
    response = await async_client.get("/api/summary/")
    assert response.json() == {"services": 4, "enabled": 4}


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_check_all_needs_a_login(async_client):
    response = await async_client.post("/api/check-all/")
    assert response.status_code == 403
    assert response.json() == {"error": "log in to run checks"}
