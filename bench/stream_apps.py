"""The apps the stream recipe suite serves (:mod:`bench.stream_recipe`).

Both serve the sample project's ``/events/`` through the server benchmarks'
Django app (``startproject``'s middleware, :mod:`bench.server_settings`):

- :data:`default` as Django serves it, one ``ThreadSensitiveContext`` per
  request;
- :data:`recipe` through :class:`snippets.performance.streams.StreamRouter`.

Each also answers ``POST /publish/`` itself, in raw ASGI in front of Django, by
publishing one event to the board's channel, so the suite can time an event's
arrival on every open stream without a Django request of its own.
"""

from bench import server_django
from sampleproject.board.broadcast import get_broadcaster
from sampleproject.board.views.events import CHANNEL
from snippets.performance.streams import StreamRouter

PUBLISH = "/publish/"


class WithPublish:
    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] != PUBLISH:
            return await self.app(scope, receive, send)
        if scope["method"] != "POST":
            return await respond(send, 405, b"POST only")
        event = await get_broadcaster().publish(CHANNEL, {"bench": True}, "check")
        return await respond(send, 200, str(event.id).encode())


async def respond(send, status: int, body: bytes) -> None:
    headers = [(b"content-type", b"text/plain"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


default = WithPublish(server_django.asgi)
recipe = WithPublish(StreamRouter(server_django.asgi, {"/events/"}))
