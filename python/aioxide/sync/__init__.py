"""aioxide.sync: bridges between sync and async code, with cancellation.

``sync_to_async`` and ``async_to_sync`` follow asgiref's semantics (thread-sensitive
calls share one thread; contextvars and exceptions cross both ways); a cancelled
``sync_to_async`` caller gets CancelledError at once, and the sync function can see it
with ``cancelled()``. ``running()`` lists sync calls that outlived their caller.
"""

from ._async_to_sync import AsyncToSync, async_to_sync
from ._cancel import SyncCall, cancelled, running
from ._sync_to_async import SyncToAsync, sync_to_async

__all__ = [
    "AsyncToSync",
    "SyncCall",
    "SyncToAsync",
    "async_to_sync",
    "cancelled",
    "running",
    "sync_to_async",
]
