"""The summary endpoint through Django's async test client."""

import pytest


@pytest.mark.asyncio
@pytest.mark.django_db
async def test_summary_counts_the_services(async_client, demo_services):
    response = await async_client.get("/api/summary/")
    assert response.json() == {"services": 4, "enabled": 4}
