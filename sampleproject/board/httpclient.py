"""The checker's HTTP clients: SSRF-guarded, connection-limited, shared per loop.

Building a client loads the CA bundle from disk, so the async client is built
off the event loop, once per loop, at start-up (:func:`open_shared_client`).
"""

from __future__ import annotations

import asyncio
import ssl
import weakref
from functools import cache

import httpx
from django.conf import settings

from sampleproject.board.urlsafety import GuardedSyncTransport, GuardedTransport

USER_AGENT = "statusboard-checker/1.0"


def client_limits() -> httpx.Limits:
    # One client serves every check: cap its connections, so a board with many
    # services cannot open hundreds of sockets at once. Keep none alive: rounds
    # are further apart than httpx's 5 s keep-alive expiry, a check should
    # connect as a new visitor would, and httpcore 1.0's pool scans its idle
    # connections once per connection on every request and every release
    # (encode/httpcore#1035), which made 50 checks at once 1.6x slower.
    return httpx.Limits(
        max_connections=settings.BOARD_MAX_CONNECTIONS,
        max_keepalive_connections=0,
    )


@cache
def ssl_context() -> ssl.SSLContext:
    """The process's TLS settings, built once: loading the CA bundle reads a file.

    Call it from a thread (``asyncio.to_thread``) or before the event loop
    serves requests, never on the loop: it blocks for tens of milliseconds.
    """
    return httpx.create_ssl_context()


def make_async_client(
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    """An SSRF-guarded, connection-limited client that follows no redirects.

    Without a ``transport``, call it off the event loop, or after
    :func:`ssl_context` has run once: httpx builds the TLS settings here.
    """
    if transport is None:
        transport = GuardedTransport(limits=client_limits(), verify=ssl_context())
    return httpx.AsyncClient(
        transport=transport, headers={"User-Agent": USER_AGENT}, follow_redirects=False
    )


# One client per event loop: a client's connections belong to the loop that
# opened them. Weak keys, so a closed loop's entry goes with it.
_shared_clients: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, httpx.AsyncClient
] = weakref.WeakKeyDictionary()


async def open_shared_client() -> httpx.AsyncClient:
    """Start-up: the running loop's shared client, built off the loop."""
    loop = asyncio.get_running_loop()
    client = _shared_clients.get(loop)
    if client is None:
        client = await asyncio.to_thread(make_async_client)
        # Another start-up may have won while the thread ran.
        client = _shared_clients.setdefault(loop, client)
    return client


async def close_shared_client() -> None:
    """Shut-down: close the running loop's shared client, if it has one."""
    client = _shared_clients.pop(asyncio.get_running_loop(), None)
    if client is not None:
        await client.aclose()


def shared_client() -> httpx.AsyncClient | None:
    """The running loop's shared client, or None if none was opened on it."""
    return _shared_clients.get(asyncio.get_running_loop())


def make_sync_client(transport: httpx.BaseTransport | None = None) -> httpx.Client:
    if transport is None:
        transport = GuardedSyncTransport(limits=client_limits(), verify=ssl_context())
    return httpx.Client(
        transport=transport, headers={"User-Agent": USER_AGENT}, follow_redirects=False
    )
