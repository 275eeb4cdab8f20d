"""Part 3: three slow requests one after another, then all at once.

Run it with ``python fanout.py`` while the fake upstream runs on port 8001, or
on the port in the ``UPSTREAM_PORT`` environment variable.
"""

import asyncio
import os
import time

import httpx

UPSTREAM = f"http://127.0.0.1:{os.environ.get('UPSTREAM_PORT', '8001')}"
URLS = [f"{UPSTREAM}/svc/{name}?delay=300" for name in ("a", "b", "c")]


def one_by_one() -> list[int]:
    with httpx.Client() as client:
        return [client.get(url).status_code for url in URLS]


async def with_gather() -> list[int]:
    async with httpx.AsyncClient() as client:
        responses = await asyncio.gather(*(client.get(url) for url in URLS))
    return [response.status_code for response in responses]


async def with_task_group() -> list[int]:
    async with httpx.AsyncClient() as client, asyncio.TaskGroup() as group:
        tasks = [group.create_task(client.get(url)) for url in URLS]
    return [task.result().status_code for task in tasks]


def timed(label: str, run) -> None:
    started = time.perf_counter()
    statuses = run()
    elapsed = time.perf_counter() - started
    print(f"{label}: {statuses} in {elapsed:.1f} s")


timed("one by one", one_by_one)
timed("gather", lambda: asyncio.run(with_gather()))
timed("TaskGroup", lambda: asyncio.run(with_task_group()))
