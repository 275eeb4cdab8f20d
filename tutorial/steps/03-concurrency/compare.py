"""Part 3: check every enabled service, the sync way and the async way.

Run it with ``python compare.py`` while the fake upstream runs on port 8001.
The async run's outcomes are stored, so the dashboard shows them.
"""

import asyncio
import os
import time

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sampleproject.settings")
django.setup()

from sampleproject.board.checker import check_all  # noqa: E402
from sampleproject.board.checksync import check_all_sync  # noqa: E402
from sampleproject.board.models import Service  # noqa: E402
from sampleproject.board.recording import record  # noqa: E402

DEADLINE = 10.0


def report(label: str, outcomes, started: float) -> None:
    elapsed_ms = (time.perf_counter() - started) * 1000
    ok = sum(outcome.ok for outcome in outcomes)
    print(f"{label}: {ok} of {len(outcomes)} ok in {elapsed_ms:.0f} ms")


def sync_run() -> None:
    # Plain sync code: one service after another, no event loop anywhere.
    services = list(Service.objects.filter(enabled=True))
    started = time.perf_counter()
    report("sync", check_all_sync(services, deadline=DEADLINE), started)


async def async_run() -> None:
    services = [s async for s in Service.objects.filter(enabled=True)]
    started = time.perf_counter()
    outcomes = await check_all(services, deadline=DEADLINE)
    report("async", outcomes, started)
    changes = await record(outcomes)
    opened = sum(change.opened for change in changes)
    print(f"recorded: {opened} incidents opened, {len(changes) - opened} closed")


sync_run()
asyncio.run(async_run())
