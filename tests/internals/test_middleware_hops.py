"""How many adapter hops one async-view request makes under ASGIHandler.

Counts the ``SyncToAsync`` and ``AsyncToSync`` calls of one GET to a trivial
async view, after a warm-up request, with startproject's MIDDLEWARE, with none,
and with the async-native classes of snippets/internals/async_middleware.py.
The counts are the same on Django 5.2 and 6.1.
"""

import pytest
from django.utils.deprecation import MiddlewareMixin

from snippets.internals.async_middleware import (
    ASYNC_NATIVE_MIDDLEWARE,
    STARTPROJECT_MIDDLEWARE,
)
from tests.internals.test_async_middleware import hops_for

# ASGIHandler's own hops: the request_started receivers, and closing the
# response (which sends request_finished).
HANDLER_HOPS = {"sync_to_async": 2, "thread_sensitive": 2, "async_to_sync": 0}
# Each MiddlewareMixin hook is one thread-sensitive sync_to_async: process_request
# and process_response of five, process_response of XFrameOptionsMiddleware,
# process_request of AuthenticationMiddleware, and CsrfViewMiddleware's
# process_view, which the handler adapts.
STARTPROJECT_HOOKS = 2 * 5 + 1 + 1 + 1


@pytest.mark.asyncio
async def test_no_middleware_leaves_the_handlers_own_two_hops():
    result, counts = await hops_for([], "GET", "/page/")
    assert result[0] == 200
    assert counts == HANDLER_HOPS


@pytest.mark.asyncio
async def test_startproject_middleware_adds_a_thread_hop_per_hook():
    result, counts = await hops_for(STARTPROJECT_MIDDLEWARE, "GET", "/page/")
    assert result[0] == 200
    hops = HANDLER_HOPS["sync_to_async"] + STARTPROJECT_HOOKS
    assert counts == {
        "sync_to_async": hops,
        "thread_sensitive": hops,
        "async_to_sync": 0,
    }
    assert hops == 15


@pytest.mark.asyncio
async def test_the_hops_come_from_middleware_mixin(monkeypatch):
    """Counted per hook: the hops drop to the handler's when the mixin calls
    its hooks directly (process_view, adapted by the handler, stays)."""

    async def direct(self, request):
        response = (
            self.process_request(request) if hasattr(self, "process_request") else None
        )
        response = response or await self.get_response(request)
        if hasattr(self, "process_response"):
            response = self.process_response(request, response)
        return response

    monkeypatch.setattr(MiddlewareMixin, "__acall__", direct)
    _, counts = await hops_for(STARTPROJECT_MIDDLEWARE, "GET", "/page/")
    assert counts["sync_to_async"] == HANDLER_HOPS["sync_to_async"] + 1


@pytest.mark.asyncio
async def test_async_native_middleware_leaves_the_handlers_own_two_hops():
    result, counts = await hops_for(ASYNC_NATIVE_MIDDLEWARE, "GET", "/page/")
    assert result[0] == 200
    assert counts == HANDLER_HOPS


@pytest.mark.asyncio
async def test_a_sync_only_middleware_adds_one_hop_each_way():
    # The pair of adapters of docs/internals/handler-core.md: sync_to_async
    # into the middleware, async_to_sync back to the async layers below.
    sync_only = "snippets.internals.handler_core.SyncOnlyMiddleware"
    _, counts = await hops_for([sync_only], "GET", "/page/")
    assert counts["sync_to_async"] == HANDLER_HOPS["sync_to_async"] + 1
    assert counts["async_to_sync"] == 1
