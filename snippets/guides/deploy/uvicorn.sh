#!/bin/sh
# uvicorn alone: a supervisor process and WORKERS worker processes, each with
# its own event loop. Run it from the project root, behind a proxy.
exec uvicorn sampleproject.asgi:application \
    --host 127.0.0.1 --port "${PORT:-8000}" \
    --workers "${WORKERS:-2}" \
    --lifespan on \
    --timeout-graceful-shutdown 5
