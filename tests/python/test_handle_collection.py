"""Handles and the garbage collector.

aioxide takes the handles ``call_soon``/``call_at`` make off the collector's lists while
they are queued (see ``HandleRef`` in handle.rs); these tests check that nothing is
collected too early and nothing is left uncollectable because of it. Each runs on both
loops.
"""

from __future__ import annotations

import asyncio
import gc
import warnings
import weakref


class _Owner:
    """Keeps its handle; the handle's callback is a bound method of the owner, which
    makes a cycle only the collector frees."""

    def fire(self):
        pass


def test_a_cycle_through_a_handle_that_ran_is_collected(loop):
    owner = _Owner()
    owner.handle = loop.call_soon(owner.fire)
    loop.run_until_complete(asyncio.sleep(0))
    ref = weakref.ref(owner)
    del owner
    gc.collect()
    assert ref() is None


def test_a_cycle_through_a_timer_left_queued_at_close_is_collected(loop_factory):
    loop = loop_factory()
    owner = _Owner()
    owner.timer = loop.call_later(3600, owner.fire)
    owner.soon = loop.call_soon(owner.fire)
    ref = weakref.ref(owner)
    del owner
    loop.close()
    gc.collect()
    assert ref() is None


def test_a_cycle_through_a_timer_that_fired_is_collected(loop):
    owner = _Owner()
    fired = loop.create_future()
    owner.timer = loop.call_later(0.001, fired.set_result, owner.fire)
    loop.run_until_complete(fired)
    ref = weakref.ref(owner)
    del owner, fired
    gc.collect()
    assert ref() is None


def test_an_unclosed_loop_with_queued_callbacks_is_collected(loop_factory):
    loop = loop_factory()
    loop.call_soon(loop.stop)
    loop.call_later(3600, loop.stop)
    ref = weakref.ref(loop)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        del loop
        gc.collect()
    assert ref() is None


def test_a_handle_held_elsewhere_keeps_its_loop_alive_and_open(loop_factory):
    loop = loop_factory()
    handle = loop.call_later(3600, loop.stop)
    soon = loop.call_soon(loop.stop)
    ref = weakref.ref(loop)
    del loop
    gc.collect()
    # Reachable through the handles: the collector must not have finalized it (its
    # __del__ would have closed it).
    assert ref() is not None
    assert not ref().is_closed()
    handle.cancel()
    soon.cancel()
    ref().close()
    del handle, soon
    gc.collect()
    assert ref() is None


def test_many_queued_handles_survive_collections(loop):
    # Collections while thousands of handles wait in the queues: every callback runs
    # once, with its arguments intact.
    seen = []
    n = 5000

    def record(i, payload):
        assert payload == [i]
        seen.append(i)

    async def main():
        for i in range(n):
            loop.call_soon(record, i, [i])
            loop.call_later(0, record, n + i, [n + i])
        gc.collect()
        while len(seen) < 2 * n:
            await asyncio.sleep(0)
            gc.collect(0)

    loop.run_until_complete(asyncio.wait_for(main(), 30))
    assert sorted(seen) == list(range(2 * n))
