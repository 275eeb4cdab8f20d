"""``obj.a.name(...)``: an async namespace for objects with a sync API.

Python cannot give one name both a sync and an async meaning: a call does not
know whether its result will be awaited. So a library that offers both needs
two names. Four ways were on the table for Django; this module implements the
one that was proposed and never shipped:

- **A suffix**, ``cache.get_async(...)``: what DEP 0009 (2019) proposed. Ugly,
  it said, but the easiest mistake to catch in review: every ``await`` must
  meet an ``_async``.
- **Separate async modules** with the same names, ``from
  django.core.cache_async import cache``: the alternative DEP 0009 rejected,
  by a small margin, because a file that uses both kinds soon loses track of
  which one it calls.
- **A prefix**, ``await cache.aget(...)``: what Django shipped, starting with
  the async cache API of Django 4.0, whose release notes made ``a`` the prefix
  for async variants generally; the async ORM (``aget``, ``asave``...) followed.
- **A namespace attribute**, ``await cache.a.get(...)``: proposed on Django's
  AsyncProject wiki page ("namespace things as cache.a.get"), implemented
  here as ``await notifier.a.send(...)``. The method names stay the sync
  ones, and the ``a.`` sits right before the name,
  where review can match it with its ``await``. Like the prefix, it needs no
  second module; unlike it, a class gets a whole async API from one line,
  ``a = AsyncNamespace()``, even when it has only sync methods.

``obj.a.name`` resolves at each access:

1. ``obj.aname`` when it is a coroutine function (an ``async def``, or a
   ``sync_to_async`` wrapper), or wraps one: a native async variant wins, so
   Django objects keep their real ``aget``, ``asave``... A model manager
   copies each ``QuerySet`` method as a plain function that returns the
   coroutine (``Service.objects.acount`` is not a coroutine function), but
   ``functools.wraps`` records the method it copies, and that one is;
2. else ``obj.name`` itself when it is a coroutine function;
3. else ``obj.name`` wrapped in :func:`asgiref.sync.sync_to_async`,
   thread-sensitive by default, as Django wraps its own sync code, so the
   ORM and other thread-bound code inside it run in the one thread meant for
   them.

A missing name raises :class:`AttributeError` and a non-callable one
:class:`TypeError`, both naming the object's type and the attribute.

Nothing is cached. A ``sync_to_async`` wrapper picks its thread when it is
called, but a wrapper kept on the object would outlive the event loop or the
request that made it; making a new one per access is cheap.

For objects you do not own, :func:`async_namespace` returns the same proxy::

    from django.core.cache import cache

    value = await async_namespace(cache).get("board:tiles")  # uses cache.aget
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, sync_to_async

__all__ = ["AsyncNamespace", "AsyncProxy", "async_namespace"]


def is_async_callable(value: object) -> bool:
    # Also true for instances of a class with an ``async def __call__``, which
    # sync_to_async refuses to wrap.
    if iscoroutinefunction(value):
        return True
    return callable(value) and iscoroutinefunction(type(value).__call__)


def awaiting(function: Callable[..., Any]) -> Callable[..., Any]:
    """A coroutine function around ``function``, which returns a coroutine."""

    @functools.wraps(function)
    async def call(*args: Any, **kwargs: Any) -> Any:
        result = function(*args, **kwargs)
        if not inspect.isawaitable(result):
            name = getattr(function, "__qualname__", repr(function))
            raise TypeError(
                f"{name}() returned {type(result).__name__}, not an awaitable"
            )
        return await result

    return call


class AsyncProxy:
    """The async view of one object: ``proxy.name(...)`` returns an awaitable."""

    __slots__ = ("_target", "_thread_sensitive")

    def __init__(self, target: object, *, thread_sensitive: bool = True) -> None:
        self._target = target
        self._thread_sensitive = thread_sensitive

    def __getattr__(self, name: str) -> Callable[..., Any]:
        target = self._target
        kind = type(target).__name__
        if name.startswith("__"):
            # Protocol probes (copy, pickle, IPython's __wrapped__...) must not
            # turn into awaitables of the target's dunder methods.
            raise AttributeError(f"{kind!r} async namespace has no attribute {name!r}")
        native = getattr(target, "a" + name, None)
        if native is not None and is_async_callable(native):
            return native
        if native is not None and iscoroutinefunction(inspect.unwrap(native)):
            return awaiting(native)
        try:
            attribute = getattr(target, name)
        except AttributeError:
            raise AttributeError(
                f"{kind!r} object has no attribute {name!r} (nor {'a' + name!r}),"
                f" so .a.{name} has nothing to call"
            ) from None
        if is_async_callable(attribute):
            return attribute
        if not callable(attribute):
            raise TypeError(
                f"{kind}.{name} is not callable (it is a"
                f" {type(attribute).__name__}), so .a.{name}() cannot await it"
            )
        return sync_to_async(attribute, thread_sensitive=self._thread_sensitive)

    def __repr__(self) -> str:
        return f"<async namespace of {self._target!r}>"


class AsyncNamespace:
    """A class attribute, ``a = AsyncNamespace()``: ``obj.a`` is an :class:`AsyncProxy`.

    On the class, ``Cls.a`` is the descriptor itself. Pass
    ``thread_sensitive=False`` only for sync methods that touch no
    thread-bound state (no ORM, no connections): they then run in a thread
    pool, in parallel with each other.
    """

    def __init__(self, *, thread_sensitive: bool = True) -> None:
        self.thread_sensitive = thread_sensitive
        self.name = "a"

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: object, objtype: type | None = None) -> Any:
        if obj is None:
            return self
        # A fresh proxy per access, never stored on obj: the proxy holds obj,
        # so a stored one would make a reference cycle.
        return AsyncProxy(obj, thread_sensitive=self.thread_sensitive)

    def __repr__(self) -> str:
        sensitive = self.thread_sensitive
        return f"<AsyncNamespace {self.name!r} thread_sensitive={sensitive}>"


def async_namespace(obj: object, *, thread_sensitive: bool = True) -> AsyncProxy:
    """The async namespace of an object whose class you cannot change."""
    return AsyncProxy(obj, thread_sensitive=thread_sensitive)
