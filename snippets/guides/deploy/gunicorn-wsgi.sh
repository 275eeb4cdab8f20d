#!/bin/sh
# The rest of the site under WSGI: gunicorn's gthread worker, WORKERS processes
# of THREADS threads each. Under WSGI the board's /events/ answers a snapshot
# and asks the browser to poll; the proxy sends /events/ to ASGI instead.
exec gunicorn --bind "127.0.0.1:${PORT:-8000}" \
    --workers "${WORKERS:-2}" --worker-class gthread --threads "${THREADS:-8}" \
    --graceful-timeout 5 --no-control-socket \
    sampleproject.wsgi:application
