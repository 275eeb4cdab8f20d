import asyncio

from asgiref.sync import ThreadSensitiveContext, async_to_sync, sync_to_async

from ...utils import REQUESTS_PER_CALL


def noop():
    return None


async def anoop():
    return None


class AsyncBridges:
    """One call through each of asgiref's bridges, to a function that does nothing.

    ``sync-to-async-sensitive`` runs in the thread-sensitive thread a request
    shares; ``...-new-context`` opens a ``ThreadSensitiveContext`` per call, as
    ``ASGIHandler`` does per request, so it includes starting that context's
    thread; ``async-to-sync`` is called from sync code, as middleware adapted
    under WSGI is.
    """

    params = [
        "sync-to-async-sensitive",
        "sync-to-async-sensitive-new-context",
        "sync-to-async-insensitive",
        "async-to-sync",
    ]
    param_names = ["bridge"]

    def setup(self, bridge):
        self.loop = asyncio.new_event_loop()
        self.call = async_to_sync(anoop)
        self.hop = sync_to_async(
            noop, thread_sensitive=bridge != "sync-to-async-insensitive"
        )

    def teardown(self, bridge):
        self.loop.close()

    async def hops(self, new_context):
        for _ in range(REQUESTS_PER_CALL):
            if new_context:
                async with ThreadSensitiveContext():
                    await self.hop()
            else:
                await self.hop()

    def time_call(self, bridge):
        if bridge == "async-to-sync":
            for _ in range(REQUESTS_PER_CALL):
                self.call()
        else:
            self.loop.run_until_complete(self.hops(bridge.endswith("new-context")))
