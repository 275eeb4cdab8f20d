"""Play the server: call Django's two handlers the way a real server does.

A WSGI server calls ``application(environ, start_response)``, iterates what it
gets back and calls its ``close()``. An ASGI server awaits
``application(scope, receive, send)`` and talks to it in messages. Doing this by
hand shows what the test client hides: when the body is read, when signals
fire, which messages go out, what a disconnect does.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterable


def wsgi_environ(
    path: str = "/", *, method: str = "GET", body: bytes = b"", stream=None
) -> dict:
    """The ``environ`` a WSGI server builds for one request."""
    return {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "CONTENT_LENGTH": str(len(body)),
        "CONTENT_TYPE": "application/octet-stream",
        "wsgi.input": stream if stream is not None else io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }


def serve_wsgi(application, environ: dict) -> tuple[str, list[bytes]]:
    """One request, as a WSGI server serves it: call, iterate, close."""
    status = []

    def start_response(status_line, headers, exc_info=None):
        status.append(status_line)

    result = application(environ, start_response)
    try:
        chunks = list(result)  # a real server writes each chunk to the socket
    finally:
        # PEP 3333: call close(), if the iterable has one, even after an error.
        # What Django returns always has one.
        result.close()
    return status[0], chunks


class ASGIConnection:
    """One HTTP request over ASGI, played by hand.

    ``receive`` hands Django the queued messages: the body in chunks, then,
    when the test says so, ``http.disconnect``. ``send`` keeps every message
    Django sends.
    """

    def __init__(
        self,
        path: str = "/",
        *,
        method: str = "GET",
        chunks: Iterable[bytes] = (),
        more_body: bool = False,
    ):
        chunks = list(chunks) or [b""]
        self.scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [
                (b"host", b"testserver"),
                (b"content-length", str(sum(map(len, chunks))).encode()),
            ],
            "client": ("127.0.0.1", 40000),
            "server": ("testserver", 80),
        }
        self.incoming: asyncio.Queue = asyncio.Queue()
        for index, chunk in enumerate(chunks):
            last = index == len(chunks) - 1
            self.incoming.put_nowait(
                {
                    "type": "http.request",
                    "body": chunk,
                    # more_body=True: the client is still sending after these.
                    "more_body": more_body or not last,
                }
            )
        self.received: list[dict] = []
        self.sent: list[dict] = []

    async def receive(self) -> dict:
        message = await self.incoming.get()
        self.received.append(message)
        return message

    async def send(self, message: dict) -> None:
        self.sent.append(message)

    def disconnect(self) -> None:
        """The client goes away."""
        self.incoming.put_nowait({"type": "http.disconnect"})

    async def serve(self, application) -> None:
        """Await the application, as the server does for this connection."""
        await application(self.scope, self.receive, self.send)

    @property
    def status(self) -> int | None:
        starts = [m for m in self.sent if m["type"] == "http.response.start"]
        return starts[0]["status"] if starts else None

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.sent[1:])
