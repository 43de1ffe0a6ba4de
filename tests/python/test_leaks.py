"""Loops and handles give back what they hold: descriptors, callbacks, themselves."""

from __future__ import annotations

import asyncio
import gc
import socket
import warnings
import weakref

import pytest
from _util import open_fd_count, run_briefly


class Marker:
    pass


def test_creating_and_closing_loops_does_not_leak_fds(loop_factory):
    loop_factory().close()  # first-use allocations out of the way
    before = open_fd_count()
    for _ in range(200):
        loop_factory().close()
    assert open_fd_count() == before


def test_loops_that_ran_do_not_leak_fds(loop_factory):
    async def work():
        a, b = socket.socketpair()
        a.setblocking(False)
        b.setblocking(False)
        with a, b:
            loop = asyncio.get_running_loop()
            await loop.sock_sendall(a, b"x")
            await loop.sock_recv(b, 1)
            await loop.run_in_executor(None, loop.call_soon_threadsafe, len, "")
            await asyncio.sleep(0)

    def one():
        loop = loop_factory()
        try:
            loop.run_until_complete(work())
        finally:
            loop.close()

    one()
    before = open_fd_count()
    for _ in range(50):
        one()
    assert open_fd_count() == before


def test_closing_a_loop_with_watchers_does_not_leak_fds(loop_factory):
    a, b = socket.socketpair()
    try:
        before = open_fd_count()
        for _ in range(50):
            loop = loop_factory()
            loop.add_reader(b.fileno(), print)
            loop.add_writer(a.fileno(), print)
            loop.close()
        assert open_fd_count() == before
    finally:
        a.close()
        b.close()


def test_unclosed_loop_warns_and_is_closed_when_collected(loop_factory):
    loop_factory().close()
    before = open_fd_count()
    loop = loop_factory()
    ref = weakref.ref(loop)
    with pytest.warns(ResourceWarning, match="unclosed event loop"):
        del loop
        gc.collect()
    assert ref() is None
    assert open_fd_count() == before


def test_closed_loop_with_pending_handles_is_collected(loop_factory):
    loop = loop_factory()
    loop.call_soon(print, Marker())
    loop.call_later(100, print, Marker())
    loop.close()
    ref = weakref.ref(loop)
    del loop
    gc.collect()
    assert ref() is None


def test_loop_that_ran_is_collected(loop_factory):
    loop = loop_factory()
    loop.run_until_complete(asyncio.sleep(0.001))
    loop.close()
    ref = weakref.ref(loop)
    del loop
    gc.collect()
    assert ref() is None


def test_cancelled_timer_releases_its_arguments(loop):
    marker = Marker()
    ref = weakref.ref(marker)
    handle = loop.call_later(100, print, marker)
    del marker
    assert ref() is not None
    handle.cancel()
    assert ref() is None


def test_cancelled_handle_releases_its_arguments(loop):
    marker = Marker()
    ref = weakref.ref(marker)
    handle = loop.call_soon(print, marker)
    del marker
    handle.cancel()
    assert ref() is None


def test_callback_arguments_released_after_running(loop):
    marker = Marker()
    ref = weakref.ref(marker)
    loop.call_soon(lambda m: None, marker)
    loop.call_later(0, lambda m: None, marker)
    del marker
    loop.call_later(0.001, loop.stop)
    loop.run_forever()
    assert ref() is None


def test_removed_reader_releases_its_arguments(loop):
    a, b = socket.socketpair()
    try:
        marker = Marker()
        ref = weakref.ref(marker)
        loop.add_reader(b.fileno(), print, marker)
        del marker
        assert loop.remove_reader(b.fileno())
        run_briefly(loop)
        assert ref() is None
    finally:
        a.close()
        b.close()


def test_cancelled_timers_are_dropped_from_the_loop(loop):
    # Many cancelled far-away timers must not keep their callbacks alive in the loop.
    markers = [Marker() for _ in range(300)]
    refs = [weakref.ref(m) for m in markers]
    handles = [loop.call_later(3600, lambda m: None, m) for m in markers]
    del markers
    for handle in handles:
        handle.cancel()
    del handles
    run_briefly(loop)
    gc.collect()
    assert all(r() is None for r in refs)


def test_finished_tasks_are_not_kept(loop):
    async def work(m):
        await asyncio.sleep(0)

    async def main():
        marker = Marker()
        ref = weakref.ref(marker)
        await asyncio.gather(*(work(marker) for _ in range(10)))
        del marker
        return ref

    ref = loop.run_until_complete(main())
    gc.collect()
    assert ref() is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert asyncio.all_tasks(loop) == set()


def test_subclass_without_super_init_closes_cleanly():
    # aioxide-specific: a Loop subclass that skips __init__ must still close and collect.
    import aioxide

    class Bare(aioxide.Loop):
        def __init__(self):
            pass

    async def agen():
        yield 1

    async def main():
        async for _ in agen():
            pass
        return "ok"

    loop = Bare()
    assert loop.run_until_complete(main()) == "ok"
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.close()
    assert loop.is_closed()
