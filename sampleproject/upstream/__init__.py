"""A fake upstream: HTTP services that fail on demand, with nothing external.

The status board checks HTTP services; demos, tests and benchmarks check this
instead. Each named service, ``GET /svc/<name>``, answers as its behaviour says
(a status, a delay, and a mode: ``normal``, ``hang``, ``reset`` or
``slow_body``), and behaviours change while it runs, over HTTP
(``PUT /_control/<name>``) or from Python (``behaviours.set("db", status=500)``).
``?status=503&delay=0.5`` on one request overrides its status and delay (in
seconds) for that request only, as the tutorial's ``fakeupstream.py`` does.

- :mod:`~sampleproject.upstream.app`: the ASGI app (``create_app``, ``app``);
- :mod:`~sampleproject.upstream.behaviours`: what a service does, and the
  registry of behaviours;
- :mod:`~sampleproject.upstream.server`: serving it on a loopback port
  (``running_upstream``, ``UpstreamThread``, ``reset_server``), and which
  fault comes from where;
- ``python -m sampleproject.upstream --port 8001``: serving it from a shell.
"""

# Not ``app`` itself: it would hide the submodule of the same name.
from sampleproject.upstream.app import UpstreamApp, create_app
from sampleproject.upstream.behaviours import Behaviour, BehaviourError, Behaviours
from sampleproject.upstream.server import (
    Upstream,
    UpstreamThread,
    reset_server,
    running_upstream,
)

__all__ = [
    "Behaviour",
    "BehaviourError",
    "Behaviours",
    "Upstream",
    "UpstreamApp",
    "UpstreamThread",
    "create_app",
    "reset_server",
    "running_upstream",
]
