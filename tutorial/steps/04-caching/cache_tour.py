"""Part 4: the async cache API, the ``.a`` namespace, and what an await costs.

Run it with ``python cache_tour.py``; ``python cache_tour.py trap`` shows the
mistake that ``aget_or_set`` invites.
"""

import asyncio
import os
import sys
import time

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sampleproject.settings")
django.setup()

from django.core.cache import cache  # noqa: E402

from sampleproject.board.asyncattr import async_namespace  # noqa: E402
from sampleproject.board.models import Service  # noqa: E402
from sampleproject.board.state import CACHE_KEY, cached_tiles, load_tiles  # noqa: E402

READS = 2000


async def tour() -> None:
    await cache.aset("greeting", "hello", 30)
    print("aget:", await cache.aget("greeting"))
    print("aget, missing:", await cache.aget("nothing", "a default"))
    # A callable default is called, synchronously, only on a miss.
    print("aget_or_set:", await cache.aget_or_set("answer", lambda: 42, 30))

    tiles = await cached_tiles()
    print(
        "tiles:",
        len(tiles),
        "loaded, then cached:",
        await cache.aget(CACHE_KEY) == tiles,
    )

    # The namespace: the sync names, awaited; native async variants win.
    print("cache.a.get:", await async_namespace(cache).get("greeting"))
    print("objects.a.count:", await async_namespace(Service.objects).count())

    started = time.perf_counter()
    for _ in range(READS):
        cache.get("greeting")
    sync_us = (time.perf_counter() - started) / READS * 1e6
    started = time.perf_counter()
    for _ in range(READS):
        await cache.aget("greeting")
    async_us = (time.perf_counter() - started) / READS * 1e6
    print(f"per read: get {sync_us:.1f} us, aget {async_us:.1f} us")


async def trap() -> None:
    # load_tiles is a coroutine function: aget_or_set calls it without
    # awaiting, and tries to cache the coroutine object it returns.
    await cache.aget_or_set(CACHE_KEY, load_tiles, 5)


if __name__ == "__main__":
    if sys.argv[1:] not in ([], ["trap"]):
        sys.exit("usage: python cache_tour.py [trap]")
    asyncio.run(trap() if sys.argv[1:] else tour())
