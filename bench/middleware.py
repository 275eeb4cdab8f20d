"""Two pass-through middleware that differ only in what they declare.

Neither does any work of its own, so the difference between a chain of one and
a chain of the other is the cost of the adapters Django inserts around a
sync-only middleware on the async path.
"""

from asgiref.sync import iscoroutinefunction, markcoroutinefunction


class SyncOnlyMiddleware:
    sync_capable = True
    async_capable = False

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)


class AsyncCapableMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.is_async:
            return self.__acall__(request)
        return self.get_response(request)

    async def __acall__(self, request):
        return await self.get_response(request)


def hops_per_request(path: str, requests: int = 20) -> dict:
    """The adapter calls one ASGI request to ``path`` makes, on average.

    Counted after the timing, over ``requests`` more requests, with the hop
    counter that the pages show (snippets/internals/async_middleware.py).
    """
    import asyncio

    from bench.portable import asgi_runner
    from snippets.internals.hops import count_hops

    run, _ = asgi_runner(path)

    async def counted():
        await run(1)  # warm: the first request imports and caches
        with count_hops() as counts:
            await run(requests)
        return counts

    counts = asyncio.run(counted())
    return {"requests": requests, **{k: v / requests for k, v in counts.items()}}
