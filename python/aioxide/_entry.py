"""Ways in: ``new_event_loop``, ``run``, ``EventLoopPolicy`` and ``install``.

Nothing here runs at import time: asyncio is only changed when the user calls
``install()``.
"""

from __future__ import annotations

import asyncio
from typing import Any, Coroutine, TypeVar

from ._loop import Loop

T = TypeVar("T")


def new_event_loop() -> Loop:
    """A new aioxide event loop (usable as ``loop_factory``)."""
    return Loop()


def run(main: Coroutine[Any, Any, T], *, debug: bool | None = None) -> T:
    """Run ``main`` on a new aioxide loop and close the loop, like ``asyncio.run``."""
    if asyncio._get_running_loop() is not None:
        raise RuntimeError("aioxide.run() cannot be called from a running event loop")
    with asyncio.Runner(debug=debug, loop_factory=new_event_loop) as runner:
        return runner.run(main)


class EventLoopPolicy(asyncio.DefaultEventLoopPolicy):
    """The default policy, creating aioxide loops."""

    def new_event_loop(self) -> Loop:
        return new_event_loop()


def install() -> None:
    """Make aioxide the loop asyncio creates (through the event loop policy)."""
    asyncio.set_event_loop_policy(EventLoopPolicy())
