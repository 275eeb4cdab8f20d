#!/bin/sh
# hypercorn: a supervisor and WORKERS worker processes, each with an asyncio
# event loop.
exec hypercorn --bind "127.0.0.1:${PORT:-8000}" \
    --workers "${WORKERS:-2}" \
    --graceful-timeout 5 \
    sampleproject.asgi:application
