"""Middleware in each mode Django knows, and a walk down a handler's chain.

The handler-core page shows these. ``SyncOnlyMiddleware`` declares nothing, so
Django's defaults apply (sync only). ``AsyncOnlyMiddleware`` and
``dual_mode_middleware`` are written the way Django's middleware docs write
their examples. ``ReleaseHeaderMiddleware`` takes itself out of the chain with
``MiddlewareNotUsed`` when there is nothing for it to do. ``chain_layers`` lists
what ``BaseHandler.load_middleware`` built, outermost first.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator

from asgiref.sync import (
    AsyncToSync,
    SyncToAsync,
    iscoroutinefunction,
    markcoroutinefunction,
)
from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed
from django.core.handlers.exception import convert_exception_to_response
from django.utils.decorators import sync_and_async_middleware


class SyncOnlyMiddleware:
    """No flags: Django assumes sync_capable = True, async_capable = False."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers["X-Sync-Only"] = "1"
        return response


class AsyncOnlyMiddleware:
    async_capable = True
    sync_capable = False

    def __init__(self, get_response):
        self.get_response = get_response
        if iscoroutinefunction(self.get_response):
            # An instance is not a coroutine function: mark it, or Django
            # treats it as sync when it wraps it.
            markcoroutinefunction(self)

    async def __call__(self, request):
        response = await self.get_response(request)
        response.headers["X-Async-Only"] = "1"
        return response


@sync_and_async_middleware
def dual_mode_middleware(get_response):
    # Django hands over a coroutine function when the layer below is async.
    if iscoroutinefunction(get_response):

        async def middleware(request):
            response = await get_response(request)
            response.headers["X-Dual-Mode"] = "async"
            return response

    else:

        def middleware(request):
            response = get_response(request)
            response.headers["X-Dual-Mode"] = "sync"
            return response

    return middleware


class ReleaseHeaderMiddleware:
    """Add ``X-Board-Release`` when the BOARD_RELEASE setting is set."""

    def __init__(self, get_response):
        self.release = getattr(settings, "BOARD_RELEASE", "")
        if not self.release:
            raise MiddlewareNotUsed("BOARD_RELEASE is not set")
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers["X-Board-Release"] = self.release
        return response


# What convert_exception_to_response returns, recognized by its code objects.
def _sync_example(request): ...


async def _async_example(request): ...


EXCEPTION_WRAPPERS = {
    convert_exception_to_response(_sync_example).__code__,
    convert_exception_to_response(_async_example).__code__,
}


def is_exception_wrapper(layer: Callable) -> bool:
    return getattr(layer, "__code__", None) in EXCEPTION_WRAPPERS


def below(layer: Callable) -> Callable | None:
    """The callable that ``layer`` calls next, or None at the bottom."""
    if isinstance(layer, SyncToAsync):
        return layer.func
    if isinstance(layer, AsyncToSync):
        return layer.awaitable
    if is_exception_wrapper(layer):
        return layer.__wrapped__
    if inspect.ismethod(layer):
        return None  # BaseHandler._get_response or _get_response_async
    if hasattr(layer, "get_response"):
        return layer.get_response  # a class-based middleware
    return inspect.getclosurevars(layer).nonlocals["get_response"]


def walk_chain(handler) -> Iterator[Callable]:
    """Every callable in ``handler._middleware_chain``, outermost first."""
    layer = handler._middleware_chain
    while layer is not None:
        yield layer
        layer = below(layer)


def describe(layer: Callable) -> str:
    if isinstance(layer, SyncToAsync):
        return "sync_to_async"
    if isinstance(layer, AsyncToSync):
        return "async_to_sync"
    if inspect.ismethod(layer):
        return layer.__func__.__qualname__
    # A class-based middleware by its class, a function-based one by its factory.
    name = getattr(layer, "__qualname__", type(layer).__name__).split(".<locals>")[0]
    mode = "async" if iscoroutinefunction(layer) else "sync"
    return f"{name} ({mode})"


def chain_layers(handler) -> list[str]:
    """The chain's middleware and adapters, without the exception wrappers."""
    return [
        describe(layer)
        for layer in walk_chain(handler)
        if not is_exception_wrapper(layer)
    ]
