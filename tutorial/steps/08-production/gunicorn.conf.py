"""gunicorn's settings for the board, read from this file when gunicorn starts here."""

import os

# uvicorn's worker class: each worker process runs an ASGI event loop.
worker_class = "uvicorn_worker.UvicornWorker"
# One worker per CPU core is a common start; two show what changes with more than one.
workers = 2
# Behind a proxy in production; the proxy terminates TLS and forwards here.
# Port 8000, or the one in the BOARD_PORT environment variable.
bind = f"127.0.0.1:{os.environ.get('BOARD_PORT', '8000')}"
# An event stream stays open: on shutdown, do not wait long for streams to end.
graceful_timeout = 5
