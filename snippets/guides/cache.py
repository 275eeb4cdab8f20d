"""The cache from async code: what to await, what to pass, what to skip.

Shown on docs/guides/cache.md. The board's counts are cached for a few
seconds: the async view awaits the cache and computes the counts only on a
miss; the sync twin uses ``get_or_set``. :func:`native_counts` is the same
cache read through ``redis.asyncio``, Django's cache left out. ``urlpatterns``
serves the views to the tests.
"""

from __future__ import annotations

import json

from django.core.cache import cache
from django.http import JsonResponse
from django.urls import path

from sampleproject.board.models import Incident, Service

COUNTS_KEY = "board:counts"
COUNTS_SECONDS = 10
# aget() returns its default on a miss; a fresh object can never be a cached
# value, so a cached None or 0 still counts as a hit.
MISSING = object()


async def board_counts() -> dict:
    return {
        "services": await Service.objects.filter(enabled=True).acount(),
        "open_incidents": await Incident.objects.filter(
            closed_at__isnull=True
        ).acount(),
    }


def board_counts_sync() -> dict:
    return {
        "services": Service.objects.filter(enabled=True).count(),
        "open_incidents": Incident.objects.filter(closed_at__isnull=True).count(),
    }


# start-aget-or-compute
async def aget_or_compute(key, compute, seconds):
    """aget_or_set() for an async ``compute``: awaited on a miss only."""
    value = await cache.aget(key, MISSING)
    if value is MISSING:
        value = await compute()
        await cache.aset(key, value, seconds)
    return value


# end-aget-or-compute


async def counts(request):
    """The async view: one hop on a hit; the queries and a set on a miss."""
    return JsonResponse(await aget_or_compute(COUNTS_KEY, board_counts, COUNTS_SECONDS))


def counts_sync(request):
    """The sync twin: get_or_set() calls the function itself on a miss."""
    return JsonResponse(cache.get_or_set(COUNTS_KEY, board_counts_sync, COUNTS_SECONDS))


# start-native
async def native_counts(redis_client) -> dict:
    """The counts through an async Redis client: no thread, JSON, no pickle."""
    cached = await redis_client.get(COUNTS_KEY)
    if cached is not None:
        return json.loads(cached)
    value = await board_counts()
    await redis_client.set(COUNTS_KEY, json.dumps(value), ex=COUNTS_SECONDS)
    return value


# end-native


urlpatterns = [
    path("counts/", counts),
    path("counts-sync/", counts_sync),
]
