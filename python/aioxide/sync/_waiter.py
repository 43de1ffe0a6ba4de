"""The sync thread blocked in async_to_sync, lent out to thread-sensitive calls.

While ``async_to_sync`` waits for its coroutine, the calling thread runs a
``ThreadWaiter``: it takes work items from a queue and runs them until the coroutine is
done. Thread-sensitive ``sync_to_async`` calls made by that coroutine (found through the
``current_waiter`` context variable, or through the loop for tasks that did not inherit
it) are submitted here, so they run in the outermost sync thread, as asgiref's do.
"""

from __future__ import annotations

import contextvars
import threading
from queue import Empty, SimpleQueue

from ._executor import Work

_DONE: Work = object  # sentinel: the coroutine finished

current_waiter: contextvars.ContextVar[ThreadWaiter | None] = contextvars.ContextVar(
    "aioxide.sync.current_waiter", default=None
)

# Loops started by async_to_sync from a plain thread -> the waiter of that thread.
loop_waiters: dict[object, ThreadWaiter] = {}


class ThreadWaiter:
    """Runs submitted work in the thread that created it until ``finish()``."""

    __slots__ = ("_queue", "_lock", "_closed", "parent", "thread")

    def __init__(self, parent: ThreadWaiter | None) -> None:
        self._queue: SimpleQueue[Work] = SimpleQueue()
        self._lock = threading.Lock()
        self._closed = False
        self.parent = parent
        self.thread = threading.current_thread()

    def submit(self, work: Work) -> None:
        """Queue ``work`` here, or on the nearest enclosing waiter still waiting."""
        waiter: ThreadWaiter | None = self
        while waiter is not None:
            with waiter._lock:
                if not waiter._closed:
                    waiter._queue.put(work)
                    return
            waiter = waiter.parent
        raise RuntimeError(
            "the sync thread of this async_to_sync call has already returned; "
            "thread-sensitive sync_to_async calls must finish before it does"
        )

    def finish(self) -> None:
        """Called from any thread once the coroutine (and its loop) is done."""
        self._queue.put(_DONE)

    def run_until_done(self) -> None:
        queue = self._queue
        while True:
            work = queue.get()
            if work is _DONE:
                break
            work()
            del work
        with self._lock:
            self._closed = True
        while True:  # work queued between finish() and closing
            try:
                work = queue.get_nowait()
            except Empty:
                return
            if work is not _DONE:
                work()
