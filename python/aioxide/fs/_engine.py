"""One native ``FsEngine`` per event loop, polled through ``add_reader``.

Engines live in a weak mapping keyed by the loop. An aioxide loop releases its engine
when it closes (a hook added to its ``_close_hooks``); the loop does not know about
``aioxide.fs``. The engine's descriptor is
an eventfd that io_uring and the worker pool signal when requests finish; the reader
callback (``FsEngine.reap``) resolves their futures on the loop thread.
"""

from __future__ import annotations

import asyncio
import functools
import os
import weakref

from .._aioxide import FsEngine

_engines: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _dead():
    return None


# The loop and engine of the last lookup, held weakly (a closed loop and its engine
# must not be kept alive by this cache).
_last: tuple = (_dead, _dead)


def _setting() -> str:
    value = os.environ.get("AIOXIDE_FS_BACKEND", "auto").strip().lower() or "auto"
    return value if value in ("auto", "io_uring", "threads") else "auto"


def _attach(loop: asyncio.AbstractEventLoop) -> FsEngine:
    engine = FsEngine(_setting())
    loop.add_reader(engine.fileno(), engine.reap)
    _engines[loop] = engine
    hooks = getattr(loop, "_close_hooks", None)
    if hooks is not None:
        hooks.append(functools.partial(_release_on_close, weakref.ref(loop), engine))
    return engine


def engine_for(loop: asyncio.AbstractEventLoop) -> FsEngine:
    """The engine serving ``loop``, created (and registered with it) on first use."""
    global _last
    if _last[0]() is loop:
        engine = _last[1]()
        if engine is not None and not engine.stale:
            return engine
    engine = _engines.get(loop)
    if engine is None or engine.stale:
        if loop.is_closed():
            raise RuntimeError("Event loop is closed")
        engine = _attach(loop)
    _last = (weakref.ref(loop), weakref.ref(engine))
    return engine


def release(loop: asyncio.AbstractEventLoop, engine: FsEngine) -> None:
    """Stop polling ``engine`` and release its descriptors (the loop is closing)."""
    global _last
    if _last[0]() is loop:
        _last = (_dead, _dead)
    if not engine.stale:
        try:
            loop.remove_reader(engine.fileno())
        except Exception:  # noqa: BLE001 - the loop may already have dropped its poller
            pass
    engine.close()


def _release_on_close(loop_ref, engine: FsEngine) -> None:
    loop = loop_ref()
    if loop is not None:
        if _engines.get(loop) is engine:
            del _engines[loop]
        release(loop, engine)


def current() -> tuple[asyncio.AbstractEventLoop, FsEngine]:
    """The running loop and its engine."""
    loop = asyncio.get_running_loop()
    return loop, engine_for(loop)


def backend() -> str:
    """``"io_uring"`` or ``"threads"``: what requests on the running loop (or a fresh
    engine, outside a loop) use."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return FsEngine(_setting()).backend
    return engine_for(loop).backend
