"""The floor: a raw ASGI app and a raw WSGI app, with no framework at all.

They answer the same two URLs as the Django app the server benchmarks run
(:mod:`bench.server_urls`), with the same body, so that Django's own cost
shows as a ratio to them:

- ``/trivial/``: ``200 ok`` at once;
- ``/sleep/``: ``200 ok`` after waiting 50 ms, with ``await asyncio.sleep``
  (ASGI) or ``time.sleep`` (WSGI), as the views do.

Anything else is a 404. The ASGI app also answers the lifespan protocol, so
any server can start it with or without lifespan events.
"""

import asyncio
import time

from sampleproject.upstream.app import serve_lifespan

SLEEP_SECONDS = 0.05
BODY = b"ok"
HEADERS = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", b"2")]


async def asgi_app(scope, receive, send):
    if scope["type"] == "lifespan":
        await serve_lifespan(receive, send)
        return
    if scope["type"] != "http":
        return
    path = scope["path"]
    if path == "/sleep/":
        await asyncio.sleep(SLEEP_SECONDS)
    elif path != "/trivial/":
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})


def wsgi_app(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if path == "/sleep/":
        time.sleep(SLEEP_SECONDS)
    elif path != "/trivial/":
        start_response("404 Not Found", [("Content-Length", "0")])
        return [b""]
    start_response(
        "200 OK",
        [(name.decode().title(), value.decode()) for name, value in HEADERS],
    )
    return [BODY]
