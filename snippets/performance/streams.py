"""Hold event streams with a fixed number of threads, not one thread each.

``ASGIHandler.__call__`` opens a ``ThreadSensitiveContext`` for every request.
The request's first thread-sensitive sync call (a sync receiver of
``request_started``, a sync middleware) starts that context's own thread, and
the thread lives until the response ends: for an event stream, as long as the
browser stays. :class:`StreamRouter` sends the stream paths to
:class:`StreamingASGIHandler`, the same handler without that context, so their
sync calls run in asgiref's one process-wide thread instead.
"""

from django.core.handlers.asgi import ASGIHandler


class StreamingASGIHandler(ASGIHandler):
    """Django's ASGI handler with no thread-sensitive context per request.

    Middleware, signals, sessions and the view run as usual. What changes:
    every thread-sensitive sync call of every request this handler serves
    runs in the same thread, one call at a time.
    """

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            raise ValueError(
                f"Django can only handle ASGI/HTTP connections, not {scope['type']}."
            )
        await self.handle(scope, receive, send)


class StreamRouter:
    """An ASGI app: requests for ``paths`` go to a :class:`StreamingASGIHandler`.

    Everything else, the lifespan protocol included, goes to ``app``
    unchanged. ``paths`` are matched exactly against the request's path.
    """

    def __init__(self, app, paths) -> None:
        self.app = app
        self.paths = frozenset(paths)
        self.streams = StreamingASGIHandler()

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["path"] in self.paths:
            return await self.streams(scope, receive, send)
        return await self.app(scope, receive, send)
