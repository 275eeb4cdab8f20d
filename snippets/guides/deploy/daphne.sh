#!/bin/sh
# daphne: one process, one event loop (Twisted's), no worker option: run one
# per CPU core on ports of their own, and balance them in the proxy.
exec daphne --bind 127.0.0.1 --port "${PORT:-8000}" \
    sampleproject.asgi:application
