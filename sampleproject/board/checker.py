"""Check every service at once, each with its timeout, all within a deadline.

Both functions return :class:`~sampleproject.board.outcome.Outcome` objects and
never raise for an upstream failure: a failed check is an outcome too.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable

import httpx

from sampleproject.board.httpclient import make_async_client, shared_client
from sampleproject.board.models import Service
from sampleproject.board.outcome import FAILURES, Outcome, judge, missed_deadline


async def check_service(client: httpx.AsyncClient, service: Service) -> Outcome:
    started = time.perf_counter()
    try:
        # httpx's timeout applies to each phase (connect, each read); the outer
        # one bounds the whole exchange, so a trickling body cannot outlast it.
        async with asyncio.timeout(service.timeout):
            response = await client.get(service.url, timeout=service.timeout)
    except (*FAILURES, TimeoutError) as exc:
        return judge(service, started, exc=exc)
    return judge(service, started, response=response)


async def check_all(
    services: Iterable[Service],
    deadline: float,
    client: httpx.AsyncClient | None = None,
) -> list[Outcome]:
    """Check every service at once; whatever is unfinished at ``deadline`` s fails.

    The per-service timeout bounds each request; the deadline bounds the run, so a
    hung upstream or a slow DNS answer cannot hold the response hostage.
    """
    services = list(services)
    if not services:
        return []
    own_client = False
    if client is None:
        client = shared_client()
    if client is None:
        # No start-up opened a client on this loop (a sync server runs each
        # async view on an event loop of its own): one for this run, built
        # off the loop.
        client = await asyncio.to_thread(make_async_client)
        own_client = True
    tasks = [asyncio.create_task(check_service(client, s)) for s in services]
    try:
        done, _ = await asyncio.wait(tasks, timeout=deadline)
        return [
            task.result() if task in done else missed_deadline(service)
            for task, service in zip(tasks, services, strict=True)
        ]
    finally:
        # On every way out, a cancelled request included: no check outlives
        # the run. Cancelling a finished task does nothing.
        for task in tasks:
            task.cancel()
        # Let the cancelled requests close their connections first.
        await asyncio.wait(tasks)
        if own_client:
            await client.aclose()
