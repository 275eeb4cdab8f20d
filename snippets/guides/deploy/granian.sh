#!/bin/sh
# granian: a Rust HTTP server; each of WORKERS processes runs a Python event
# loop. --interface asgi runs the lifespan protocol (asginl would skip it).
exec granian --interface asgi \
    --host 127.0.0.1 --port "${PORT:-8000}" \
    --workers "${WORKERS:-2}" \
    --workers-kill-timeout 5 \
    sampleproject.asgi:application
