"""Two small middleware, one written for both paths and one for the sync path only.

``ServerTimingMiddleware`` runs in whichever mode the layer below it runs in,
so it never costs a thread hop. ``BoardVersionMiddleware`` is written the old
way, sync only: on the ASGI path Django wraps what is below it in
``async_to_sync`` and hands it, and every middleware above it, to a thread with
``sync_to_async``, once per request. The guides use the pair to show that cost.
"""

import time

from asgiref.sync import iscoroutinefunction, markcoroutinefunction

BOARD_VERSION = "1"


class ServerTimingMiddleware:
    """Add ``Server-Timing: app;dur=<ms>``: time spent in the layers below.

    For a streaming response the clock stops when the response object comes
    back, before its body is produced: the header has to be sent before the
    body, so the time spent streaming cannot be in it.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            # Django awaits the instance only if it looks like a coroutine
            # function; a class instance does not, unless marked.
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.is_async:
            return self.__acall__(request)
        started = time.perf_counter()
        response = self.get_response(request)
        return self.add_header(response, started)

    async def __acall__(self, request):
        started = time.perf_counter()
        response = await self.get_response(request)
        return self.add_header(response, started)

    @staticmethod
    def add_header(response, started):
        elapsed_ms = (time.perf_counter() - started) * 1000
        response.headers["Server-Timing"] = f"app;dur={elapsed_ms:.1f}"
        return response


class BoardVersionMiddleware:
    """Add ``X-Board-Version``. Sync only, on purpose: see the module docstring."""

    # Django's defaults, spelled out: this is the declaration the guides discuss.
    sync_capable = True
    async_capable = False

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers["X-Board-Version"] = BOARD_VERSION
        return response
