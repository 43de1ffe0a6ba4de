"""call_soon, call_later, call_at, call_soon_threadsafe and their handles."""

from __future__ import annotations

import asyncio
import contextvars
import gc
import threading
import time
import weakref

import pytest
from _util import run_briefly

var = contextvars.ContextVar("var", default="unset")


def cb():
    pass


def cb_args(*args):
    pass


# -- ordering ----------------------------------------------------------------------------


def test_call_soon_runs_in_fifo_order(loop):
    seen = []
    for i in range(50):
        loop.call_soon(seen.append, i)
    run_briefly(loop)
    assert seen == list(range(50))


def test_callbacks_scheduled_by_callbacks_run_on_next_iteration(loop):
    seen = []

    def first():
        seen.append("first")
        loop.call_soon(seen.append, "scheduled-by-first")

    loop.call_soon(first)
    loop.call_soon(seen.append, "second")
    loop.call_soon(loop.stop)
    loop.run_forever()
    # stop() ends the run after the current iteration: the nested one has not run yet.
    assert seen == ["first", "second"]
    run_briefly(loop)
    assert seen == ["first", "second", "scheduled-by-first"]


def test_call_later_fires_in_deadline_order(loop):
    seen = []
    loop.call_later(0.03, seen.append, 3)
    loop.call_later(0.01, seen.append, 1)
    loop.call_later(0.02, seen.append, 2)
    loop.call_later(0.04, loop.stop)
    loop.run_forever()
    assert seen == [1, 2, 3]


def test_call_at_fires_in_deadline_order(loop):
    seen = []
    now = loop.time()
    loop.call_at(now + 0.02, seen.append, "b")
    loop.call_at(now + 0.01, seen.append, "a")
    loop.call_at(now + 0.03, seen.append, "c")
    loop.call_at(now + 0.04, loop.stop)
    loop.run_forever()
    assert seen == ["a", "b", "c"]


def test_equal_deadlines_all_fire_in_the_same_iteration(loop):
    seen = []
    when = loop.time() + 0.01
    loop.call_at(when, loop.stop)
    for i in range(30):
        loop.call_at(when, seen.append, i)
    loop.run_forever()
    # stop() takes effect after the iteration, which runs every timer due at `when`.
    assert sorted(seen) == list(range(30))


def test_equal_deadlines_fire_in_scheduling_order(aioxide_loop):
    # aioxide only: asyncio's heap compares TimerHandles by deadline alone, so the stdlib
    # loop runs equal deadlines in heap order; aioxide promises scheduling order.
    loop = aioxide_loop
    seen = []
    when = loop.time() + 0.01
    for i in range(30):
        loop.call_at(when, seen.append, i)
    loop.call_at(when, loop.stop)
    loop.run_forever()
    assert seen == list(range(30))


def test_negative_delays_are_ordered_by_deadline(loop):
    seen = []
    loop.call_later(-1, seen.append, "minus-1")
    loop.call_later(0, seen.append, "zero")
    loop.call_later(-2, seen.append, "minus-2")
    loop.call_soon(seen.append, "soon")
    loop.call_later(-0.5, loop.stop)
    loop.run_forever()
    # Already-ready callbacks first, then due timers by deadline (not as call_soon).
    assert seen == ["soon", "minus-2", "minus-1", "zero"]


def test_timer_does_not_fire_early(loop):
    fired = []
    handle = loop.call_later(0.05, lambda: fired.append(loop.time()))
    loop.call_later(0.06, loop.stop)
    loop.run_forever()
    assert len(fired) == 1
    assert fired[0] >= handle.when() - 1e-6


def test_timer_does_not_fire_before_its_deadline_while_others_do(loop):
    seen = []
    loop.call_later(0.01, seen.append, "early")
    loop.call_later(30, seen.append, "late")
    loop.call_later(0.02, loop.stop)
    loop.run_forever()
    assert seen == ["early"]


# -- cancel --------------------------------------------------------------------------------


def test_cancelled_call_soon_does_not_run(loop):
    seen = []
    handle = loop.call_soon(seen.append, "cancelled")
    loop.call_soon(seen.append, "kept")
    assert not handle.cancelled()
    handle.cancel()
    assert handle.cancelled()
    handle.cancel()  # twice is fine
    assert handle.cancelled()
    run_briefly(loop)
    assert seen == ["kept"]


def test_cancelled_timer_does_not_run(loop):
    seen = []
    handle = loop.call_later(0.01, seen.append, "cancelled")
    loop.call_later(0.005, seen.append, "kept")
    handle.cancel()
    assert handle.cancelled()
    loop.call_later(0.03, loop.stop)
    loop.run_forever()
    assert seen == ["kept"]


def test_callback_can_cancel_a_later_callback_of_the_same_iteration(loop):
    seen = []
    handles = []
    loop.call_soon(lambda: handles[0].cancel())
    handles.append(loop.call_soon(seen.append, "victim"))
    loop.call_soon(seen.append, "after")
    run_briefly(loop)
    assert seen == ["after"]


def test_many_cancelled_timers_leave_live_ones_working(loop):
    seen = []
    doomed = [loop.call_later(0.01, seen.append, "doomed") for _ in range(500)]
    loop.call_later(0.02, seen.append, "live")
    for handle in doomed:
        handle.cancel()
    loop.call_later(0.03, loop.stop)
    loop.run_forever()
    assert seen == ["live"]


def test_when_of_timer_handles(loop):
    now = loop.time()
    handle = loop.call_at(now + 10, cb)
    assert handle.when() == now + 10
    before = loop.time()
    later = loop.call_later(5, cb)
    after = loop.time()
    assert before + 5 <= later.when() <= after + 5
    handle.cancel()
    later.cancel()


def test_time_is_monotonic_clock(loop):
    before = time.monotonic()
    now = loop.time()
    after = time.monotonic()
    assert before <= now <= after


def test_call_later_with_a_non_number_delay_raises_type_error(loop):
    with pytest.raises(TypeError):
        loop.call_later("1", cb)


# -- contextvars ---------------------------------------------------------------------------


def test_call_soon_copies_the_current_context(loop):
    seen = []
    token = var.set("at-schedule")
    try:
        loop.call_soon(lambda: seen.append(var.get()))
        var.set("after-schedule")
    finally:
        var.reset(token)
    run_briefly(loop)
    assert seen == ["at-schedule"]


def test_callback_changes_do_not_leak_out_of_its_context(loop):
    loop.call_soon(var.set, "inside")
    run_briefly(loop)
    assert var.get() == "unset"


@pytest.mark.parametrize("method", ["call_soon", "call_later", "call_at", "threadsafe"])
def test_callbacks_run_in_the_given_context(loop, method):
    ctx = contextvars.copy_context()
    ctx.run(var.set, "in-ctx")
    seen = []

    def record():
        seen.append(var.get())
        var.set("changed-by-callback")

    if method == "call_soon":
        loop.call_soon(record, context=ctx)
    elif method == "threadsafe":
        loop.call_soon_threadsafe(record, context=ctx)
    elif method == "call_later":
        loop.call_later(0, record, context=ctx)
    else:
        loop.call_at(loop.time(), record, context=ctx)
    loop.call_later(0.01, loop.stop)
    loop.run_forever()
    assert seen == ["in-ctx"]
    # The callback ran inside ctx itself, not inside a copy of it.
    assert ctx[var] == "changed-by-callback"
    assert var.get() == "unset"


# -- call_soon_threadsafe ------------------------------------------------------------------


def test_call_soon_threadsafe_wakes_a_sleeping_loop(loop):
    seen = []
    errors = []

    def from_thread():
        # Give the loop time to fall asleep in the poller; the test holds either way.
        time.sleep(0.05)
        try:
            loop.call_soon_threadsafe(seen.append, "woken")
            loop.call_soon_threadsafe(loop.stop)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    thread = threading.Thread(target=from_thread)
    loop.call_soon(thread.start)
    safety = loop.call_later(5, loop.stop)
    start = time.monotonic()
    loop.run_forever()
    elapsed = time.monotonic() - start
    thread.join()
    safety.cancel()
    assert errors == []
    assert seen == ["woken"]
    assert elapsed < 2


def test_call_soon_threadsafe_from_many_threads(loop):
    per_thread = 200
    n_threads = 4
    seen = []
    done = loop.create_future()

    def record(tag, i):
        seen.append((tag, i))
        if len(seen) == per_thread * n_threads and not done.done():
            done.set_result(None)

    def worker(tag):
        for i in range(per_thread):
            loop.call_soon_threadsafe(record, tag, i)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(n_threads)]

    async def main():
        for t in threads:
            t.start()
        await asyncio.wait_for(done, 5)

    loop.run_until_complete(main())
    for t in threads:
        t.join()
    assert len(seen) == per_thread * n_threads
    for tag in range(n_threads):
        assert [i for t, i in seen if t == tag] == list(range(per_thread))


def test_finalizers_that_schedule_callbacks_during_collections(loop):
    # A collection can start at any allocation, including one the loop makes while it
    # holds its queues; finalizers then run Python code there, which schedules more
    # callbacks, from the loop's thread and from others. Nothing may be lost or fail.
    per_thread = 2000
    n_threads = 3
    ran = []
    finalized = []
    errors = []
    done = loop.create_future()

    class Cycle:
        pass

    def make_garbage(i):
        ran.append(i)
        c = Cycle()
        c.self = c  # only the collector frees it
        weakref.finalize(c, loop.call_soon_threadsafe, finalized.append, i)
        c.handle = loop.call_soon(lambda: None)
        if len(ran) == per_thread * n_threads and not done.done():
            done.set_result(None)

    def worker():
        try:
            for i in range(per_thread):
                loop.call_soon_threadsafe(make_garbage, i)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(n_threads)]

    async def main():
        for t in threads:
            t.start()
        await asyncio.wait_for(done, 30)
        gc.collect()
        for _ in range(5):
            await asyncio.sleep(0)

    thresholds = gc.get_threshold()
    gc.set_threshold(5, 2, 2)
    try:
        loop.run_until_complete(main())
    finally:
        gc.set_threshold(*thresholds)
        for t in threads:
            t.join()
    assert errors == []
    assert len(ran) == per_thread * n_threads
    assert len(finalized) == per_thread * n_threads


def test_call_soon_threadsafe_returns_a_cancellable_handle(loop):
    seen = []
    handle = loop.call_soon_threadsafe(seen.append, 1)
    handle.cancel()
    assert handle.cancelled()
    run_briefly(loop)
    assert seen == []


# -- more timers ---------------------------------------------------------------------------


def test_many_timers_with_cancellations_fire_in_deadline_order(loop):
    import random

    rng = random.Random(1234)
    seen = []
    base = loop.time() + 0.005
    offsets = list(range(600))
    rng.shuffle(offsets)
    handles = {i: loop.call_at(base + i * 2e-5, seen.append, i) for i in offsets}
    cancelled = set(rng.sample(offsets, 400))
    for i in cancelled:
        handles[i].cancel()
    loop.call_at(base + 0.05, loop.stop)
    loop.run_forever()
    assert seen == sorted(set(offsets) - cancelled)


def test_timer_can_cancel_another_timer_due_in_the_same_iteration(loop):
    seen = []
    when = loop.time() + 0.01
    victim = []

    def killer():
        seen.append("killer")
        victim[0].cancel()

    loop.call_at(when, killer)
    victim.append(loop.call_at(when + 1e-7, seen.append, "victim"))
    loop.call_at(when + 0.01, loop.stop)
    loop.run_forever()
    assert seen == ["killer"]


def test_infinite_delay_does_not_block_other_timers(loop):
    import math

    seen = []
    forever = loop.call_later(math.inf, seen.append, "never")
    loop.call_later(0.01, seen.append, "soon")
    loop.call_later(0.02, loop.stop)
    loop.run_forever()
    assert seen == ["soon"]
    assert forever.when() == math.inf
    forever.cancel()


def test_a_due_timer_cancelled_by_an_earlier_one_in_the_same_batch_does_not_run(loop):
    # All three are due in the same iteration. aioxide moves due timers to the batch
    # without looking at them, so `_scheduled` and the cancel must still read as asyncio's:
    # out of the heap once due, in it again for a timer pushed meanwhile.
    ran = []
    seen = {}
    when = loop.time() + 0.01
    second = late = None

    def first():
        nonlocal late
        ran.append("first")
        seen["second"] = second._scheduled
        second.cancel()
        late = loop.call_at(when - 1, ran.append, "late")  # a past deadline: next iteration
        seen["late"] = late._scheduled
        seen["later"] = later._scheduled

    loop.call_at(when, first)
    second = loop.call_at(when, ran.append, "second")
    third = loop.call_at(when, ran.append, "third")
    later = loop.call_at(when + 0.01, loop.stop)
    loop.run_forever()
    assert ran == ["first", "third", "late"]
    assert seen == {"second": False, "late": True, "later": True}
    assert not third._scheduled and not late._scheduled and not third.cancelled()
