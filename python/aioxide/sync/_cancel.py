"""Cancellation state of sync calls made through sync_to_async.

Every ``sync_to_async`` call has a ``SyncCall``. While its function runs, the call sits
on a per-thread stack, so code in the function can ask ``cancelled()`` and a nested
``async_to_sync`` knows which event loop to go back to and whether to refuse to start.
When the awaiting caller is cancelled (or its ``timeout=`` expires) the call is marked
cancelled, the coroutines its function is running through ``async_to_sync`` are
cancelled, and, if the function is still running, the call is listed by ``running()``
until it returns.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

_local = threading.local()
_running: set[SyncCall] = set()


class SyncCall:
    """One sync_to_async call: what ``running()`` reports.

    ``func`` is the wrapped callable, ``thread`` the thread running it (None until it
    starts), ``cancelled_at`` the ``time.monotonic()`` of the cancellation (None if the
    caller was not cancelled), ``done`` whether the function has returned.
    """

    __slots__ = ("func", "loop", "thread", "cancelled_at", "done", "_started", "_lock",
                 "_tasks")

    def __init__(self, func: Callable[..., Any], loop: asyncio.AbstractEventLoop) -> None:
        self.func = func
        self.loop = loop
        self.thread: threading.Thread | None = None
        self.cancelled_at: float | None = None
        self.done = False
        self._started = False
        self._lock = threading.Lock()
        self._tasks: set[tuple[asyncio.AbstractEventLoop, asyncio.Task[Any]]] = set()

    @property
    def cancelled(self) -> bool:
        return self.cancelled_at is not None

    def __repr__(self) -> str:
        name = getattr(self.func, "__qualname__", None) or repr(self.func)
        state = "done" if self.done else "running" if self._started else "pending"
        if self.cancelled:
            state += " cancelled"
        thread = self.thread.name if self.thread is not None else None
        return f"<SyncCall {name} {state} thread={thread}>"

    # -- called by the thread that runs the function ------------------------------------

    def start(self) -> bool:
        """Mark the call started in this thread; False if it was cancelled first."""
        with self._lock:
            if self.cancelled_at is not None:
                return False
            self._started = True
            self.thread = threading.current_thread()
        stack = _stack()
        stack.append(self)
        return True

    def finish(self) -> None:
        _local.stack.pop()
        with self._lock:
            self.done = True
            if self.cancelled_at is not None:
                _running.discard(self)

    # -- called by async_to_sync on behalf of the running function ----------------------

    def track(self, loop: asyncio.AbstractEventLoop, task: asyncio.Task[Any]) -> bool:
        """Remember a task run for this call, or cancel it at once if the call was."""
        with self._lock:
            if self.cancelled_at is None:
                self._tasks.add((loop, task))
                return True
        task.cancel()
        return False

    def untrack(self, loop: asyncio.AbstractEventLoop, task: asyncio.Task[Any]) -> None:
        with self._lock:
            self._tasks.discard((loop, task))

    # -- called on the caller's loop when the caller is cancelled -----------------------

    def cancel(self) -> None:
        with self._lock:
            if self.cancelled_at is not None or self.done:
                return
            self.cancelled_at = time.monotonic()
            if self._started:
                _running.add(self)
            tasks = list(self._tasks)
        for loop, task in tasks:
            _cancel_task(loop, task)


def _cancel_task(loop: asyncio.AbstractEventLoop, task: asyncio.Task[Any]) -> None:
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        task.cancel()
        return
    try:
        loop.call_soon_threadsafe(task.cancel)
    except RuntimeError:  # that loop is closed: the task is gone with it
        pass


def _stack() -> list[SyncCall]:
    try:
        return _local.stack
    except AttributeError:
        _local.stack = stack = []
        return stack


def current_call() -> SyncCall | None:
    """The innermost sync_to_async call running in this thread, if any."""
    stack = getattr(_local, "stack", None)
    return stack[-1] if stack else None


def cancelled() -> bool:
    """True inside a sync_to_async function whose awaiting caller was cancelled (or timed
    out). Long-running sync code can poll it and stop early; False outside such calls."""
    call = current_call()
    return call is not None and call.cancelled_at is not None


def running() -> list[SyncCall]:
    """The sync calls still running although their caller was cancelled, oldest first."""
    calls = list(_running)
    calls.sort(key=lambda call: call.cancelled_at or 0.0)
    return calls
