"""gunicorn's gevent worker for the sample project's WSGI application.

Shown on docs/guides/gevent.md; tests/snippets/guides/test_gevent.py starts
gunicorn with it::

    gunicorn -c snippets/guides/gevent_gunicorn.py sampleproject.wsgi:application
"""

import os

# start-gevent-config
# Each worker patches the standard library when it starts, then serves every
# connection in a greenlet of its own, all on one OS thread.
worker_class = "gevent"
# One thread of Python per worker, busy or waiting: one worker per core.
workers = os.cpu_count() or 1
# Greenlets per worker, so requests in flight at once. Each one that queries
# holds its own database connection: size the database's limit (or the pool)
# for workers x worker_connections.
worker_connections = 100
# The app must be imported after the patching, in the worker: a driver
# imported before it (psycopg picks its wait function at import) keeps
# blocking calls that stop every greenlet of the worker.
preload_app = False
# end-gevent-config
