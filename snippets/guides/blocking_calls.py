"""A planted blocking call in an async view, and three ways to find it.

Shown on docs/guides/blocking-calls.md. ``probe_service`` is an async view that
calls a sync retry helper, the kind a project carries over from its sync days.
The helper waits with ``time.sleep()`` between attempts: in an async view that
wait stops the event loop, and every other request on it, for ``RETRY_DELAY``.
The functions below run the view the way each tool needs.
"""

import asyncio
import logging
import time

from django.http import JsonResponse
from django.test import AsyncRequestFactory
from pyinstrument import Profiler

RETRY_DELAY = 0.2


class FlakyProbe:
    """A health check that fails ``failures`` times, then answers."""

    def __init__(self, failures=1):
        self.failures = failures

    def __call__(self):
        if self.failures:
            self.failures -= 1
            raise ConnectionError("connection refused")
        return "up"


# start-planted-bug
def retry(call, attempts=3, delay=RETRY_DELAY):
    """Call ``call()``, waiting ``delay`` seconds after each ConnectionError."""
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except ConnectionError:
            if attempt == attempts:
                raise
            time.sleep(delay)  # the planted bug: blocks the event loop


async def probe_service(request, slug):
    status = retry(FlakyProbe(failures=1))
    return JsonResponse({"service": slug, "status": status})


# end-planted-bug


# start-fix
async def aretry(call, attempts=3, delay=RETRY_DELAY):
    """``retry()`` for async code: the wait gives the loop back."""
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except ConnectionError:
            if attempt == attempts:
                raise
            await asyncio.sleep(delay)


async def probe_service_fixed(request, slug):
    status = await aretry(FlakyProbe(failures=1))
    return JsonResponse({"service": slug, "status": status})


# end-fix


async def request_probe(view=probe_service):
    request = AsyncRequestFactory().get("/services/payments/probe/")
    return await view(request, "payments")


async def request_fixed_probe():
    return await request_probe(probe_service_fixed)


# start-debug-mode
def run_in_debug_mode(main, slow=0.1):
    """Run ``main()`` on a loop in debug mode; return asyncio's warnings."""
    records = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = records.append
    logger = logging.getLogger("asyncio")
    logger.addHandler(handler)
    try:
        with asyncio.Runner(debug=True) as runner:
            # Any callback or task step that holds the loop longer is logged.
            runner.get_loop().slow_callback_duration = slow
            runner.run(main())
    finally:
        logger.removeHandler(handler)
    return [record.getMessage() for record in records]


# end-debug-mode


# start-profile
async def profile(main):
    """Await ``main()`` under pyinstrument; return the profile as text."""
    # Started in this coroutine, it follows this task, from this frame down.
    with Profiler(async_mode="enabled") as profiler:
        await main()
    return profiler.output_text(color=False, unicode=True)


# end-profile
