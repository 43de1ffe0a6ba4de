"""Handles that ran are reused.

When a ``call_soon`` handle has run and nothing else refers to it, aioxide keeps it,
emptied, and fills it again for a later ``call_soon`` instead of allocating a new one
(``HandleRef::recycle`` in handle.rs). A handle somebody still holds, or holds a weak
reference to, must never be reused. These tests run on both loops (except the one that
checks reuse happens, which is aioxide's own) and check that no program can tell.
"""

from __future__ import annotations

import asyncio
import contextvars
import gc
import weakref

import pytest


def _run_once(loop):
    loop.run_until_complete(asyncio.sleep(0))


def _churn(loop, n=300):
    """Run n throwaway callbacks, so that any reusable handle gets reused."""
    seen = []
    for i in range(n):
        loop.call_soon(seen.append, i)
    _run_once(loop)
    assert seen == list(range(n))


def test_reuse_happens(loop, is_aioxide):
    loop.set_debug(False)  # the default, unless PYTHONASYNCIODEBUG=1 says otherwise
    if not is_aioxide:
        pytest.skip("reuse is aioxide's: asyncio allocates each handle")
    handle = loop.call_soon(len, ())
    address = id(handle)
    del handle
    _run_once(loop)
    addresses = {id(loop.call_soon(len, ())) for _ in range(10)}
    assert address in addresses
    _run_once(loop)


def test_a_held_handle_keeps_its_callback_and_arguments(loop):
    def first(x):
        pass

    kept = loop.call_soon(first, 1)
    _run_once(loop)
    _churn(loop)
    assert kept._callback is first
    assert kept._args == (1,)
    assert not kept.cancelled()
    assert "first" in repr(kept)


def test_a_handle_only_weakly_referenced_dies_when_it_ran(loop):
    ref = weakref.ref(loop.call_soon(len, ()))
    _run_once(loop)
    gc.collect()
    assert ref() is None
    _churn(loop)
    assert ref() is None


def test_a_reused_handle_is_not_cancelled(loop):
    cancelled = loop.call_soon(len, ())
    cancelled.cancel()
    del cancelled
    ran = []
    done = loop.call_soon(ran.append, "done")
    del done
    _run_once(loop)
    handles = [loop.call_soon(ran.append, i) for i in range(20)]
    assert not any(h.cancelled() for h in handles)
    _run_once(loop)
    assert ran == ["done", *range(20)]


def test_a_cancelled_reused_handle_does_not_run(loop):
    _churn(loop)
    ran = []
    handles = [loop.call_soon(ran.append, i) for i in range(20)]
    for h in handles[::2]:
        h.cancel()
    _run_once(loop)
    assert ran == list(range(1, 20, 2))


def test_reused_handles_run_in_their_own_context(loop):
    var = contextvars.ContextVar("var", default="unset")
    seen = []

    def record(tag):
        seen.append((tag, var.get()))

    for round_ in range(3):
        for i in range(10):
            ctx = contextvars.copy_context()
            ctx.run(var.set, f"{round_}-{i}")
            loop.call_soon(record, (round_, i), context=ctx)
        loop.call_soon(record, (round_, "none"))
        _run_once(loop)
    assert seen == [
        item
        for r in range(3)
        for item in [((r, i), f"{r}-{i}") for i in range(10)] + [((r, "none"), "unset")]
    ]


def test_a_reused_handle_releases_what_the_old_callback_held(loop):
    class Payload:
        pass

    payload = Payload()
    ref = weakref.ref(payload)
    loop.call_soon(len, [payload])
    del payload
    _run_once(loop)
    # The handle may now sit emptied in the loop's reserve: it must not keep the
    # arguments of its last callback alive.
    assert ref() is None


def test_a_handle_its_own_callback_stored_is_not_reused(loop):
    # The callback keeps a reference to its own handle: the handle is still referred
    # to after it ran, so it must keep its callback.
    cell, box = [], []
    cell.append(loop.call_soon(lambda: box.append(cell.pop())))
    _run_once(loop)
    assert not cell
    stored = box[0]
    _churn(loop)
    assert stored._callback is not None
    assert "lambda" in repr(stored)


def test_a_cycle_through_a_reused_handle_is_collected(loop):
    class Owner:
        def fire(self):
            pass

    _churn(loop)
    owner = Owner()
    owner.handle = loop.call_soon(owner.fire)
    _run_once(loop)
    ref = weakref.ref(owner)
    del owner
    gc.collect()
    assert ref() is None


def test_reuse_across_threads(loop):
    import threading

    results = []
    done = loop.create_future()

    def worker():
        for i in range(200):
            loop.call_soon_threadsafe(results.append, i)
        loop.call_soon_threadsafe(done.set_result, None)

    async def main():
        t = threading.Thread(target=worker)
        t.start()
        await done
        t.join()

    loop.run_until_complete(main())
    assert results == list(range(200))


def test_a_handle_cancelled_by_its_own_callback_is_reused_uncancelled(loop):
    # The callback cancels its own handle and lets it go: after it ran, only the queue
    # refers to the handle, cancelled. A later call_soon must still run.
    cell = []
    cell.append(loop.call_soon(lambda: cell.pop().cancel()))
    _run_once(loop)
    assert not cell
    _churn(loop)
