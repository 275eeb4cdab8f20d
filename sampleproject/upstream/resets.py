"""Ending a TCP connection with a reset (RST) instead of an orderly close (FIN).

ASGI has no message for "drop the connection", so the app reaches past it:
:func:`server_transport` finds the transport behind uvicorn's ``send``, and
:func:`reset_transport` closes it abruptly. The raw TCP server of
:func:`sampleproject.upstream.server.reset_server` resets with it too.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import Callable

# struct linger {int l_onoff; int l_linger;}: lingering on, for zero seconds,
# makes close() discard unsent data and send RST instead of FIN.
_LINGER_ZERO = struct.pack("ii", 1, 0)


def server_transport(send: Callable[..., object]) -> asyncio.WriteTransport | None:
    """The transport carrying this request, when the server lets us reach it.

    uvicorn's ``send`` is a bound method of its per-request cycle object, which
    holds the connection's transport. Other servers, and ``httpx.ASGITransport``,
    have no such object: they get ``None``.
    """
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    return transport if isinstance(transport, asyncio.WriteTransport) else None


def reset_transport(transport: asyncio.WriteTransport) -> None:
    """Close ``transport`` at once, so that the peer sees a connection reset."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        # Already closed by the peer: then there is nothing left to reset.
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_ZERO)
    transport.abort()
