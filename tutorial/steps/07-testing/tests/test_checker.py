"""Checking many services at once: the wait is the slowest one, not the sum."""

import asyncio
import time

import httpx
import pytest

from sampleproject.board.checker import check_all, check_service
from sampleproject.board.models import Check, Service

DELAY = 0.2  # seconds each fake upstream takes to answer


def services(count: int) -> list[Service]:
    # Unsaved services are enough: checking one never touches the database.
    return [
        Service(pk=n, slug=f"svc-{n}", url=f"http://upstream.test/svc/{n}", timeout=2)
        for n in range(1, count + 1)
    ]


async def slow(request: httpx.Request) -> httpx.Response:
    await asyncio.sleep(DELAY)
    return httpx.Response(200)


async def first_one_hangs(request: httpx.Request) -> httpx.Response:
    if request.url.path == "/svc/1":
        await asyncio.sleep(60)
    return httpx.Response(200)


@pytest.mark.asyncio
async def test_ten_checks_take_about_as_long_as_one():
    # MockTransport answers in process: no network, no SSRF guard.
    async with httpx.AsyncClient(transport=httpx.MockTransport(slow)) as client:
        started = time.perf_counter()
        outcomes = await asyncio.gather(
            *(check_service(client, service) for service in services(10))
        )
        elapsed = time.perf_counter() - started
    assert [outcome.ok for outcome in outcomes] == [True] * 10
    assert elapsed < 3 * DELAY  # one after another: 10 * DELAY


@pytest.mark.asyncio
async def test_the_deadline_bounds_the_whole_run():
    transport = httpx.MockTransport(first_one_hangs)
    async with httpx.AsyncClient(transport=transport) as client:
        started = time.perf_counter()
        outcomes = await check_all(services(3), deadline=0.3, client=client)
        elapsed = time.perf_counter() - started
    assert [outcome.ok for outcome in outcomes] == [False, True, True]
    assert outcomes[0].error == Check.Error.TIMEOUT
    assert elapsed < 1
