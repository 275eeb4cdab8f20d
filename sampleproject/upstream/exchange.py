"""One HTTP request and its response, spoken over ASGI ``receive`` and ``send``.

The handlers in :mod:`sampleproject.upstream.app` use an :class:`Exchange` to
read the query and body, to answer, and to misbehave: answer slowly, never
answer, or drop the connection. Every wait ends early when the client goes
away, so no request outlives its client.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Collection, Iterable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl

from sampleproject.upstream.behaviours import brief_repr
from sampleproject.upstream.resets import reset_transport, server_transport

Message = MutableMapping[str, Any]
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Headers = Iterable[tuple[bytes, bytes]]

TEXT = b"text/plain; charset=utf-8"
JSON = b"application/json"
# These statuses mean "no content" (RFC 9110, 15.3.5 and 15.4.5): a body, or a
# Content-Length, would break the client's framing of the next response.
BODILESS_STATUSES = frozenset({204, 304})
MAX_QUERY_FIELDS = 10


class BadRequest(ValueError):
    """The request cannot be served as asked: the app answers 400 with this message."""


class Exchange:
    def __init__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.scope = scope
        self.receive = receive
        self.send = send

    @property
    def method(self) -> str:
        return self.scope["method"]

    @property
    def path(self) -> str:
        return self.scope["path"]

    def query(self, allowed: Collection[str]) -> dict[str, str]:
        """The query parameters; unknown or repeated ones are a :class:`BadRequest`.

        Strict on purpose: ``?dealy=5`` silently ignored would be a test that
        passes for the wrong reason.
        """
        text = self.scope.get("query_string", b"").decode("latin-1")
        try:
            pairs = parse_qsl(
                text, keep_blank_values=True, max_num_fields=MAX_QUERY_FIELDS
            )
        except ValueError:
            raise BadRequest(f"at most {MAX_QUERY_FIELDS} query parameters") from None
        params: dict[str, str] = {}
        for key, value in pairs:
            if key not in allowed:
                expected = ", ".join(sorted(allowed)) or "none"
                raise BadRequest(
                    f"unknown query parameter {brief_repr(key)}; allowed: {expected}"
                )
            if key in params:
                raise BadRequest(f"query parameter {brief_repr(key)} is given twice")
            params[key] = value
        return params

    async def read_body(self, limit: int) -> bytes | None:
        """The request body, or ``None`` if the client left before sending it all."""
        body = bytearray()
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                return None
            body += message.get("body", b"")
            if len(body) > limit:
                raise BadRequest(f"the body is larger than {limit} bytes")
            if not message.get("more_body", False):
                return bytes(body)

    async def respond(
        self,
        status: int,
        body: bytes = b"",
        content_type: bytes = TEXT,
        headers: Headers = (),
    ) -> None:
        head = [(b"content-type", content_type), *headers]
        if status in BODILESS_STATUSES:
            body = b""
        else:
            head.append((b"content-length", str(len(body)).encode()))
        await self.send(
            {"type": "http.response.start", "status": status, "headers": head}
        )
        # HEAD gets the headers GET would get, Content-Length included, and no body.
        await self.send(
            {
                "type": "http.response.body",
                "body": b"" if self.method == "HEAD" else body,
            }
        )

    async def respond_json(
        self, status: int, data: object, headers: Headers = ()
    ) -> None:
        await self.respond(status, json.dumps(data).encode(), JSON, headers)

    async def fail(self, status: int, message: str, headers: Headers = ()) -> None:
        await self.respond_json(status, {"error": message}, headers)

    async def stream(
        self, status: int, chunks: Iterable[bytes], interval: float
    ) -> None:
        """Send the headers now, then each chunk after a pause of ``interval`` seconds.

        With no Content-Length the server frames the body in chunks, so each
        one reaches the client as it is sent.
        """
        head = [(b"content-type", TEXT)]
        await self.send(
            {"type": "http.response.start", "status": status, "headers": head}
        )
        if self.method != "HEAD" and status not in BODILESS_STATUSES:
            for chunk in chunks:
                if not await self.sleep(interval):
                    return
                await self.send(
                    {"type": "http.response.body", "body": chunk, "more_body": True}
                )
        await self.send({"type": "http.response.body", "body": b""})

    async def wait_for_disconnect(self) -> None:
        """Return when the client goes away, discarding any request body."""
        while (await self.receive())["type"] != "http.disconnect":
            pass

    async def sleep(self, seconds: float) -> bool:
        """Wait ``seconds``; ``False`` if the client went away meanwhile.

        Watching for the disconnect, rather than a plain ``asyncio.sleep``, ends
        the request with its client: a server stopping later has nothing left
        to wait for.
        """
        if seconds <= 0:
            return True
        try:
            async with asyncio.timeout(seconds):
                await self.wait_for_disconnect()
        except TimeoutError:
            return True
        return False

    def drop(self) -> bool:
        """Reset the connection now; ``False`` if the server keeps it out of reach.

        See :mod:`sampleproject.upstream.resets` for how it is reached.
        """
        transport = server_transport(self.send)
        if transport is None:
            return False
        reset_transport(transport)
        return True

    async def reset_connection(self) -> None:
        """Drop the connection without an answer; the client sees a reset.

        Only uvicorn lets an app reach its connection. Anywhere else, including
        ``httpx.ASGITransport``, this raises :class:`ConnectionResetError`.
        """
        if not self.drop():
            raise ConnectionResetError(
                "the fake upstream can reset connections only under uvicorn;"
                " this server gives the app no access to its connection"
            )
        # The server learns of the reset on its next loop turn; wait for it, so
        # that it does not answer 500 for a request it thinks is unanswered.
        await self.wait_for_disconnect()
