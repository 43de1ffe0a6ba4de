"""aioxide.debug: asyncio's debug mode plus tools that show what blocks the loop.

- ``watchdog(threshold=0.1, loop=None)``: log the Python stack of the loop thread while a
  callback blocks it (also on with ``AIOXIDE_WATCHDOG=0.1`` or in debug mode);
- ``metrics(loop)``: iterations, callbacks, time busy vs waiting, longest stall, lag;
- ``forbid_unawaited()``: fail with the creation site of never-awaited coroutines.
"""

from __future__ import annotations

import asyncio

from .._aioxide import LoopCore
from ._unawaited import UnawaitedCoroutineError, forbid_unawaited
from ._watchdog import Watchdog

__all__ = ["UnawaitedCoroutineError", "Watchdog", "forbid_unawaited", "metrics", "watchdog"]


def _aioxide_loop(loop):
    if loop is None:
        loop = asyncio.get_running_loop()
    if not isinstance(loop, LoopCore):
        raise TypeError(f"an aioxide loop is required, got {loop!r}")
    return loop


def watchdog(threshold: float = 0.1, loop=None, *, repeat_interval: float = 60.0) -> Watchdog:
    """Attach a watchdog to ``loop`` (default: the running loop) and return it. It stays
    until ``stop()`` or until the loop closes; also usable as a context manager."""
    return _aioxide_loop(loop)._attach_watchdog(threshold, repeat_interval=repeat_interval)


def metrics(loop=None) -> dict:
    """A snapshot of ``loop``'s counters (cheap: meant to be polled every second):

    ``iterations``, ``callbacks``; ``running_time`` since the first run, split into
    ``waiting_time`` (in the poller) and ``busy_time`` (running callbacks); the
    ``longest_stall`` between two visits to the poller; ``lag``, how late the last due
    timer ran; ``ready`` and ``timers`` queued now."""
    return _aioxide_loop(loop)._metrics()
