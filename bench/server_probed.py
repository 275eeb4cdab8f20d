"""The ASGI apps the servers suite runs, each with the loop-lag probe.

- :data:`raw` is the raw ASGI app (:mod:`bench.server_apps`);
- :data:`django` is Django's :class:`~django.core.handlers.asgi.ASGIHandler`
  (:mod:`bench.server_django`);
- :data:`django_shared_thread` is the same handler without its per-request
  :class:`~asgiref.sync.ThreadSensitiveContext`: a request's thread-sensitive
  calls go to asgiref's one process-wide thread, started once, instead of a
  thread started for the request (and a second one that joins it at the end).
  It is a measuring device, not a recipe: every request's sync steps then
  queue on that one thread.
"""

from django.core.handlers.asgi import ASGIHandler

from bench import server_django
from bench.loop_lag import with_probe
from bench.server_apps import asgi_app


class SharedThreadASGIHandler(ASGIHandler):
    """Django's ASGI handler without its per-request thread-sensitive context."""

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP, not {scope['type']}")
        await self.handle(scope, receive, send)


raw = with_probe(asgi_app)
django = with_probe(server_django.asgi)
django_shared_thread = with_probe(SharedThreadASGIHandler())
