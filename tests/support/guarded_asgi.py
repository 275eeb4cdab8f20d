"""The sample project's ASGI application under the blocking guard.

``BLOCKING_REPORT=FILE uvicorn tests.support.guarded_asgi:application`` serves
the board as ``sampleproject.asgi`` does, with the guard of
tests/support/blocking.py switched on from the first ASGI event (lifespan
included) and each detection appended to FILE as a JSON line, for the smoke
test (tests/sampleproject/test_blocking_smoke.py) to read.

The server's own start-up (binding its socket) comes before the first event
and is not watched: it runs once, before there is a request to delay.
"""

import dataclasses
import json
import os
import time

from sampleproject.asgi import application as project
from tests.support.blocking import Detection, Guard

guard = Guard()
guard.test = "server"


def write(detection: Detection) -> None:
    with open(os.environ["BLOCKING_REPORT"], "a") as report:
        report.write(json.dumps(dataclasses.asdict(detection)) + "\n")


guard.on_detection = write


def canary() -> None:
    """One deliberate blocking call, so the smoke test knows the guard is on."""
    time.sleep(0)


async def application(scope, receive, send):
    if not guard.active:
        guard.activate()
        canary()
    await project(scope, receive, send)
