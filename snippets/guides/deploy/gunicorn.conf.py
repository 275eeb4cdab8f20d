"""gunicorn's settings for the board with uvicorn workers (gunicorn-uvicorn.sh)."""

import os

bind = f"127.0.0.1:{os.environ.get('PORT', '8000')}"
# An event loop per process: one worker per CPU core is the place to start.
workers = int(os.environ.get("WORKERS") or os.cpu_count() or 1)
worker_class = "uvicorn_worker.UvicornWorker"
# On SIGTERM, requests still running (an open event stream is one) get this
# many seconds before the worker is killed.
graceful_timeout = 5
# A worker that does not report for this long is restarted. An async worker
# reports from its event loop, so this also catches a loop blocked that long.
timeout = 30
# Each gunicorn would otherwise listen on the same control socket in $HOME.
control_socket_disable = True
