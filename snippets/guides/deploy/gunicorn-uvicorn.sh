#!/bin/sh
# gunicorn managing uvicorn workers: gunicorn restarts a worker that dies or
# stops answering; each worker runs an event loop. The settings are in the
# gunicorn.conf.py beside this script.
exec gunicorn --config "$(dirname "$0")/gunicorn.conf.py" \
    sampleproject.asgi:application
