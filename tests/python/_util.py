"""Helpers shared by the test modules."""

from __future__ import annotations

import asyncio
import os


def open_fd_count() -> int:
    """How many descriptors this process has open."""
    return len(os.listdir("/proc/self/fd"))


def run_briefly(loop: asyncio.AbstractEventLoop) -> None:
    """Run one iteration of ``loop``: the callbacks that are ready now."""
    loop.call_soon(loop.stop)
    loop.run_forever()
