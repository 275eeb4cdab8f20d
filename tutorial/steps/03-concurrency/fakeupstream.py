"""A fake upstream service, written against ASGI itself, with no framework.

Run it with ``uvicorn fakeupstream:app --port 8001``. ``GET /svc/<name>``
answers ``200`` after ``DELAY_MS`` milliseconds (an environment variable,
default 200); ``?delay=<ms>`` and ``?status=<code>`` override them for one
request. Anything else is a 404.
"""

import asyncio
import os
from urllib.parse import parse_qs

DELAY_MS = int(os.environ.get("DELAY_MS", "200"))


async def respond(send, status: int, text: str) -> None:
    headers = [(b"content-type", b"text/plain; charset=utf-8")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": text.encode()})


async def app(scope, receive, send):
    if scope["type"] != "http":
        return  # "lifespan": uvicorn carries on without startup events
    name = scope["path"].removeprefix("/svc/")
    if name == scope["path"] or not name:
        return await respond(send, 404, "no such service\n")
    query = {k: v[-1] for k, v in parse_qs(scope["query_string"].decode()).items()}
    try:
        delay_ms = int(query.get("delay", DELAY_MS))
        status = int(query.get("status", 200))
    except ValueError:
        return await respond(send, 400, "delay and status must be integers\n")
    # The wait that a real service spends working: no thread is held.
    await asyncio.sleep(delay_ms / 1000)
    await respond(send, status, f"{name}: {status}\n")
