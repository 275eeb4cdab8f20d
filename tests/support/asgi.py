"""Drive an ASGI application by hand, to watch a streamed response arrive.

Django's AsyncClient waits for the whole response, which an endless event stream
never finishes, and it skips what ASGIHandler does per request (such as giving
each request its own thread for sync code). :class:`StreamingGet` sends one
request (a GET unless told otherwise) straight to the application, yields the
body as it comes, and can play the browser going away (``http.disconnect``).
"""

from __future__ import annotations

import asyncio


class StreamingGet:
    def __init__(
        self,
        app,
        path: str,
        headers: dict[str, str] | None = None,
        *,
        method: str = "GET",
        body: bytes = b"",
    ):
        self.app = app
        self.request_body = body
        path, _, query = path.partition("?")
        self.scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "root_path": "",
            "headers": [(b"host", b"testserver")]
            + [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
            "client": ("127.0.0.1", 40000),
            "server": ("testserver", 80),
        }
        self.incoming: asyncio.Queue = asyncio.Queue()
        self.outgoing: asyncio.Queue = asyncio.Queue()
        self.status: int | None = None
        self.headers: dict[str, str] = {}
        self.body = ""
        self.finished = False
        self.task: asyncio.Task | None = None

    async def __aenter__(self) -> StreamingGet:
        await self.incoming.put(
            {"type": "http.request", "body": self.request_body, "more_body": False}
        )
        self.task = asyncio.create_task(
            self.app(self.scope, self.incoming.get, self.send)
        )
        start = await asyncio.wait_for(self.outgoing.get(), 5)
        assert start["type"] == "http.response.start", start
        self.status = start["status"]
        self.headers = {k.decode().lower(): v.decode() for k, v in start["headers"]}
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.disconnect()

    async def send(self, message) -> None:
        await self.outgoing.put(message)

    async def read_until(self, text: str, limit: float = 5.0) -> str:
        """Read body chunks until ``text`` has arrived; return the body so far."""
        async with asyncio.timeout(limit):
            while text not in self.body:
                message = await self.outgoing.get()
                self.body += message.get("body", b"").decode()
                if not message.get("more_body", False):
                    self.finished = True
                    if text not in self.body:
                        raise AssertionError(
                            f"stream ended without {text!r}: {self.body!r}"
                        )
        return self.body

    async def read_to_end(self, limit: float = 5.0) -> str:
        """Read until the application ends the response by itself."""
        async with asyncio.timeout(limit):
            while not self.finished:
                message = await self.outgoing.get()
                self.body += message.get("body", b"").decode()
                self.finished = not message.get("more_body", False)
        return self.body

    async def disconnect(self, limit: float = 5.0) -> None:
        """The browser goes away; wait until the application has returned."""
        if self.task is None or self.task.done():
            return
        await self.incoming.put({"type": "http.disconnect"})
        await asyncio.wait_for(self.task, limit)
