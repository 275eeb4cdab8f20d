"""The ASGI apps the servers suite runs, each with the loop-lag probe.

- :data:`raw` is the raw ASGI app (:mod:`bench.server_apps`);
- :data:`django` is Django's :class:`~django.core.handlers.asgi.ASGIHandler`
  (:mod:`bench.server_django`);
- :data:`django_shared_thread` is the same handler without its per-request
  :class:`~asgiref.sync.ThreadSensitiveContext`: a request's thread-sensitive
  calls go to asgiref's one process-wide thread, started once, instead of a
  thread started for the request (and a second one that joins it at the end).
  It is the handler of the stream recipe (``snippets/performance/streams.py``),
  here for every request: all their sync steps then queue on that one thread.
"""

from bench import server_django
from bench.loop_lag import with_probe
from bench.server_apps import asgi_app
from snippets.performance.streams import StreamingASGIHandler

raw = with_probe(asgi_app)
django = with_probe(server_django.asgi)
django_shared_thread = with_probe(StreamingASGIHandler())
