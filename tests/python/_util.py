"""Helpers shared by the test modules."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import warnings


def open_fd_count() -> int:
    """How many descriptors this process has open, once garbage is collected.

    Collecting first keeps an earlier test's unreachable loop (closed by its finalizer)
    from changing the count between a test's "before" and "after".
    """
    gc.collect()
    return len(os.listdir("/proc/self/fd"))


def fds_open_on(path: os.PathLike | str) -> list[int]:
    """The descriptors this process has open on ``path``."""
    target = os.path.realpath(path)
    found = []
    for name in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{name}") == target:
                found.append(int(name))
        except OSError:  # closed while we looked (the listing's own fd, a racing thread)
            pass
    return found


def run_briefly(loop: asyncio.AbstractEventLoop) -> None:
    """Run one iteration of ``loop``: the callbacks that are ready now."""
    loop.call_soon(loop.stop)
    loop.run_forever()


@contextlib.contextmanager
def no_resource_warnings():
    """Fails the block if it leaves a socket, transport or session to the garbage
    collector: garbage is collected before and after, and ResourceWarnings recorded."""
    gc.collect()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        yield
        gc.collect()
    leaked = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    assert leaked == []
