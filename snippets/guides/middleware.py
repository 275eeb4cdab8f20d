"""Middleware that runs in both modes, and an audit of a project's MIDDLEWARE.

Shown on docs/guides/middleware.md. ``board_version_middleware`` is the
both-modes replacement for the sample project's sync-only
``BoardVersionMiddleware``; ``audit_middleware`` reports, for each entry of a
``MIDDLEWARE`` list, the modes it declares and the thread hops it adds to an
async view's request, counted with :func:`snippets.internals.hops.count_hops`.
"""

import dataclasses

from asgiref.sync import iscoroutinefunction
from django.http import HttpResponse
from django.test import AsyncClient, override_settings
from django.urls import path
from django.utils.decorators import sync_and_async_middleware
from django.utils.deprecation import MiddlewareMixin
from django.utils.module_loading import import_string

from sampleproject.board.middleware import BOARD_VERSION
from snippets.internals.hops import count_hops


# start-function-middleware
@sync_and_async_middleware
def board_version_middleware(get_response):
    """Add ``X-Board-Version`` in the mode of the layer below: no adapter."""
    if iscoroutinefunction(get_response):

        async def middleware(request):
            response = await get_response(request)
            response.headers["X-Board-Version"] = BOARD_VERSION
            return response

    else:

        def middleware(request):
            response = get_response(request)
            response.headers["X-Board-Version"] = BOARD_VERSION
            return response

    return middleware


# end-function-middleware


# start-unmarked
class UnmarkedMiddleware:
    """Declares both modes, but never calls markcoroutinefunction(self)."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)

    def __call__(self, request):
        if self.is_async:
            return self.__acall__(request)
        return self.get_response(request)

    async def __acall__(self, request):
        return await self.get_response(request)


# end-unmarked


async def board_ping(request):
    return HttpResponse("ok")


urlpatterns = [path("ping/", board_ping)]


# start-audit
@dataclasses.dataclass
class Entry:
    path: str
    mode: str
    hops: int  # sync_to_async plus async_to_sync calls it adds per request

    def __str__(self):
        return f"{self.hops:>2} hop(s)  {self.mode:<23} {self.path}"


def declared_mode(middleware) -> str:
    sync = getattr(middleware, "sync_capable", True)
    is_async = getattr(middleware, "async_capable", False)
    if sync and is_async:
        if getattr(middleware, "__acall__", None) is MiddlewareMixin.__acall__:
            # Both modes, but each sync hook goes to a thread under ASGI.
            return "both, MiddlewareMixin"
        return "both"
    return "async only" if is_async else "sync only"


async def hops_per_request(middleware: list[str]) -> int:
    """Adapter calls of one async-view request through ``middleware``."""
    with override_settings(MIDDLEWARE=middleware, ROOT_URLCONF=__name__):
        client = AsyncClient()  # builds its async chain on the first request
        await client.get("/ping/")
        with count_hops() as counts:
            response = await client.get("/ping/")
    assert response.status_code == 200, response
    return counts["sync_to_async"] + counts["async_to_sync"]


async def audit_middleware(middleware: list[str]) -> list[Entry]:
    """Each entry's declared modes and the hops it adds under ASGI.

    Entry N is measured as the chain of the first N entries minus the chain of
    the first N - 1: an entry may need the ones above it (authentication needs
    sessions), never the ones below.
    """
    entries, before = [], await hops_per_request([])
    for count, dotted in enumerate(middleware, start=1):
        after = await hops_per_request(middleware[:count])
        mode = declared_mode(import_string(dotted))
        entries.append(Entry(dotted, mode, after - before))
        before = after
    return entries


# end-audit
