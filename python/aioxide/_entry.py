"""Ways in: ``new_event_loop``, ``run``, ``EventLoopPolicy`` and ``install``.

Nothing here runs at import time: asyncio is only changed when the user calls
``install()``.
"""

from __future__ import annotations

import asyncio
import warnings
from typing import Any, Coroutine, TypeVar

from . import _versions
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


def _deprecated(name: str) -> None:
    """Warn as asyncio 3.14+ does for its policy API (which ``name`` belongs to)."""
    if _versions.POLICY_DEPRECATED:
        warnings.warn(f"{name!r} is deprecated and slated for removal in Python 3.16",
                      DeprecationWarning, stacklevel=3)


_policy_class: type | None = None


def policy_class() -> type:
    """``aioxide.EventLoopPolicy``: the default policy, creating aioxide loops. Made on
    first use, so that importing aioxide touches no deprecated name."""
    global _policy_class
    if _policy_class is None:
        # unix_events' default policy under its private name: the public one warns (3.14)
        from asyncio import unix_events

        class EventLoopPolicy(unix_events._UnixDefaultEventLoopPolicy):
            """The default policy, creating aioxide loops."""

            def new_event_loop(self) -> Loop:
                return new_event_loop()

        EventLoopPolicy.__module__ = "aioxide"
        _policy_class = EventLoopPolicy
    return _policy_class


def install() -> None:
    """Make aioxide the loop asyncio creates (through the event loop policy)."""
    _deprecated("aioxide.install")
    policy = policy_class()()
    # 3.14's public setter warns again, at this line; its private one does not.
    getattr(asyncio.events, "_set_event_loop_policy", asyncio.set_event_loop_policy)(policy)
