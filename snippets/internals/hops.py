"""Count the thread hops a piece of async code makes.

Every ``sync_to_async`` call is a ``SyncToAsync.__call__`` and every
``async_to_sync`` call an ``AsyncToSync.__call__``, whoever made the adapter:
Django's handler, ``MiddlewareMixin``, the async ORM, your code. Patching the
two methods for the length of a block counts them all.
"""

from collections import Counter
from contextlib import contextmanager

from asgiref.sync import AsyncToSync, SyncToAsync


# start-hop-counter
@contextmanager
def count_hops():
    """Count the sync_to_async and async_to_sync calls made inside the block."""
    counts = Counter(sync_to_async=0, thread_sensitive=0, async_to_sync=0)
    original_s2a, original_a2s = SyncToAsync.__call__, AsyncToSync.__call__

    async def s2a(self, *args, **kwargs):
        counts["sync_to_async"] += 1
        # A thread-sensitive call runs in the request's one sync thread.
        counts["thread_sensitive"] += bool(self._thread_sensitive)
        return await original_s2a(self, *args, **kwargs)

    def a2s(self, *args, **kwargs):
        counts["async_to_sync"] += 1
        return original_a2s(self, *args, **kwargs)

    SyncToAsync.__call__, AsyncToSync.__call__ = s2a, a2s
    try:
        yield counts
    finally:
        SyncToAsync.__call__, AsyncToSync.__call__ = original_s2a, original_a2s


# end-hop-counter
