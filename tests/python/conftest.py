"""Shared fixtures: every behaviour test runs on aioxide and on the stdlib loop.

A test that passes on ``asyncio`` and fails on ``aioxide`` points at a bug in aioxide; a
test that fails on both is a wrong test.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import tempfile

import aioxide
import pytest

LOOP_FACTORIES = {
    "aioxide": aioxide.new_event_loop,
    "asyncio": asyncio.new_event_loop,
}


@pytest.fixture(params=list(LOOP_FACTORIES), ids=list(LOOP_FACTORIES))
def loop_factory(request):
    """A callable creating a new, not yet running, event loop (aioxide or stdlib)."""
    return LOOP_FACTORIES[request.param]


@pytest.fixture
def is_aioxide(loop_factory) -> bool:
    return loop_factory is aioxide.new_event_loop


def _close_loop(loop: asyncio.AbstractEventLoop) -> None:
    if loop.is_closed():
        return
    try:
        if not loop.is_running():
            loop.run_until_complete(loop.shutdown_default_executor())
    finally:
        loop.close()


@pytest.fixture
def loop(loop_factory):
    """A fresh loop, closed (default executor shut down first) after the test."""
    ev = loop_factory()
    try:
        yield ev
    finally:
        _close_loop(ev)
        asyncio.set_event_loop(None)


@pytest.fixture
def aioxide_loop():
    """An aioxide loop, for the few tests about aioxide itself rather than behaviour."""
    ev = aioxide.new_event_loop()
    try:
        yield ev
    finally:
        _close_loop(ev)


@pytest.fixture
def pair():
    """A connected pair of non-blocking Unix stream sockets, closed after the test."""
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    yield a, b
    a.close()
    b.close()


@pytest.fixture
def short_tmp():
    """A short temporary directory: a Unix socket path must fit in 108 bytes."""
    path = tempfile.mkdtemp(prefix="ax-", dir="/tmp")
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def unix_path(short_tmp):
    """A path where a Unix socket can be bound (nothing there yet)."""
    return os.path.join(short_tmp, "s.sock")
