"""The parts of the board's event stream that are not about streaming.

:func:`last_event_id` reads where a reconnecting browser wants to resume;
:func:`snapshot` is the whole answer under WSGI, where an endless response
would hold a worker thread: the board as it is, and a ``retry`` delay, so that
``EventSource`` polls instead of streaming.
"""

import json

from sampleproject.board.state import load_tiles

POLL_RETRY_MS = 15000


def last_event_id(request) -> int | None:
    """The id to resume after, from the header EventSource sends on reconnection."""
    raw = request.headers.get("Last-Event-ID") or request.GET.get("last_event_id")
    if raw is None or raw == "":
        return None
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        raise ValueError(raw)
    return int(raw)


async def snapshot() -> str:
    tiles = [tile.as_json() for tile in await load_tiles()]
    data = json.dumps({"tiles": tiles}, separators=(",", ":"))
    return f"retry: {POLL_RETRY_MS}\nevent: snapshot\ndata: {data}\n\n"
