"""Running, stopping and closing loops; errors and interrupts raised inside a run."""

from __future__ import annotations

import asyncio
import gc
import re
import warnings
import weakref

import aioxide
import pytest
from _util import run_briefly

CLOSED = "Event loop is closed"


async def answer(value=42):
    await asyncio.sleep(0)
    return value


async def fail(exc):
    await asyncio.sleep(0)
    raise exc


# -- run_until_complete ------------------------------------------------------------------


def test_run_until_complete_returns_the_coroutine_result(loop):
    assert loop.run_until_complete(answer()) == 42


def test_run_until_complete_raises_the_coroutine_exception(loop):
    with pytest.raises(ValueError, match="boom"):
        loop.run_until_complete(fail(ValueError("boom")))


def test_run_until_complete_with_a_future(loop):
    fut = loop.create_future()
    loop.call_soon(fut.set_result, "done")
    assert loop.run_until_complete(fut) == "done"


def test_run_until_complete_with_a_failed_future(loop):
    fut = loop.create_future()
    loop.call_later(0.01, fut.set_exception, KeyError("k"))
    with pytest.raises(KeyError):
        loop.run_until_complete(fut)


def test_run_until_complete_with_a_task(loop):
    task = loop.create_task(answer(7))
    assert loop.run_until_complete(task) == 7
    assert task.done()


def test_run_until_complete_rejects_a_non_awaitable(loop):
    with pytest.raises(TypeError):
        loop.run_until_complete(123)


def test_run_until_complete_on_a_future_of_another_loop(loop, loop_factory):
    other = loop_factory()
    try:
        fut = other.create_future()
        with pytest.raises(ValueError):
            loop.run_until_complete(fut)
    finally:
        other.close()


def test_run_until_complete_when_stopped_before_the_future_completes(loop):
    fut = loop.create_future()
    loop.call_soon(loop.stop)
    with pytest.raises(RuntimeError, match="Event loop stopped before Future completed."):
        loop.run_until_complete(fut)


def test_loop_can_run_several_times(loop):
    for i in range(5):
        assert loop.run_until_complete(answer(i)) == i


# -- run_forever and stop ------------------------------------------------------------------


def test_run_forever_until_stop(loop):
    seen = []
    loop.call_soon(seen.append, 1)
    loop.call_later(0.01, seen.append, 2)
    loop.call_later(0.02, loop.stop)
    loop.run_forever()
    assert seen == [1, 2]
    assert not loop.is_running()


def test_stop_before_run_forever_runs_one_iteration(loop):
    seen = []
    loop.stop()
    loop.call_soon(seen.append, "ready")
    loop.call_soon(lambda: loop.call_soon(seen.append, "next-iteration"))
    loop.run_forever()
    assert seen == ["ready"]
    # The stop request was used up: the next run goes on until stopped again.
    loop.call_later(0.01, loop.stop)
    loop.run_forever()
    assert seen == ["ready", "next-iteration"]


def test_a_stop_request_cleared_through_the_stopping_attribute(loop):
    # asyncio's loops keep the request in a plain `_stopping` attribute, which servers
    # such as Sanic read and reset (`loop._stopping = False`) before running shutdown
    # code after a stop() that came in while the loop was not running.
    assert loop._stopping is False
    loop.stop()
    assert loop._stopping is True
    loop._stopping = False
    assert loop._stopping is False
    # Nothing is left of the request: a run goes on until its future is done.
    assert loop.run_until_complete(answer(7)) == 7
    # Set to true, the next run stops after one iteration, as after stop().
    loop._stopping = True
    seen = []
    loop.call_soon(seen.append, "ready")
    loop.call_soon(lambda: loop.call_soon(seen.append, "next-iteration"))
    loop.run_forever()
    assert seen == ["ready"]
    assert loop._stopping is False


def test_is_running(loop):
    seen = []
    assert not loop.is_running()
    loop.call_soon(lambda: seen.append(loop.is_running()))
    run_briefly(loop)
    assert seen == [True]
    assert not loop.is_running()


def test_running_loop_inside(loop):
    async def main():
        assert asyncio.get_running_loop() is loop
        assert asyncio.get_event_loop() is loop
        task = asyncio.current_task()
        assert task is not None
        assert task.get_loop() is loop
        assert task in asyncio.all_tasks()
        other = asyncio.ensure_future(asyncio.sleep(0))
        assert other in asyncio.all_tasks()
        await other
        return task

    task = loop.run_until_complete(main())
    assert task.done()
    with pytest.raises(RuntimeError):
        asyncio.get_running_loop()


def test_current_task_is_none_in_a_plain_callback(loop):
    seen = []
    loop.call_soon(lambda: seen.append(asyncio.current_task(loop)))
    run_briefly(loop)
    assert seen == [None]


def test_nested_run_until_complete_raises(loop):
    async def main():
        coro = answer()
        try:
            with pytest.raises(RuntimeError, match="This event loop is already running"):
                loop.run_until_complete(coro)
        finally:
            coro.close()
        with pytest.raises(RuntimeError, match="This event loop is already running"):
            loop.run_forever()
        return "still fine"

    assert loop.run_until_complete(main()) == "still fine"


def test_running_a_loop_while_another_runs_raises(loop, loop_factory):
    other = loop_factory()
    message = "Cannot run the event loop while another loop is running"

    async def main():
        coro = answer()
        try:
            with pytest.raises(RuntimeError, match=message):
                other.run_until_complete(coro)
        finally:
            coro.close()
        with pytest.raises(RuntimeError, match=message):
            other.run_forever()
        assert not other.is_running()

    try:
        loop.run_until_complete(main())
        # Once the first loop is done the other one runs normally.
        assert other.run_until_complete(answer(5)) == 5
    finally:
        other.close()


# -- close ---------------------------------------------------------------------------------


def test_close_a_running_loop_raises(loop):
    errors = []

    def try_close():
        try:
            loop.close()
        except RuntimeError as exc:
            errors.append(str(exc))

    loop.call_soon(try_close)
    run_briefly(loop)
    assert errors == ["Cannot close a running event loop"]
    assert not loop.is_closed()


def test_is_closed_and_close_twice(loop):
    assert not loop.is_closed()
    assert loop._closed is False  # asyncio's and uvloop's attribute, read by some code
    loop.close()
    assert loop.is_closed()
    assert loop._closed is True
    loop.close()
    assert loop.is_closed()


@pytest.mark.parametrize(
    "call",
    [
        lambda loop: loop.call_soon(print),
        lambda loop: loop.call_soon_threadsafe(print),
        lambda loop: loop.call_later(1, print),
        lambda loop: loop.call_at(loop.time() + 1, print),
        lambda loop: loop.run_forever(),
        lambda loop: loop.run_in_executor(None, print),
    ],
    ids=["call_soon", "call_soon_threadsafe", "call_later", "call_at", "run_forever",
         "run_in_executor"],
)
def test_closed_loop_refuses_work(loop, call):
    loop.close()
    with pytest.raises(RuntimeError, match=CLOSED):
        call(loop)


def test_closed_loop_refuses_create_task_and_run_until_complete(loop):
    loop.close()
    coro = answer()
    try:
        with pytest.raises(RuntimeError, match=CLOSED):
            loop.create_task(coro)
        with pytest.raises(RuntimeError, match=CLOSED):
            loop.run_until_complete(coro)
    finally:
        coro.close()


def test_close_drops_pending_callbacks(loop):
    class Marker:
        pass

    marker = Marker()
    ref = weakref.ref(marker)
    loop.call_soon(print, marker)
    loop.call_later(100, print, marker)
    del marker
    loop.close()
    assert ref() is None


def test_running_leaves_no_reference_cycle_through_the_loop():
    # aioxide only (a stdlib loop that has run sits in reference cycles): futures and
    # tasks made while the loop ran leave nothing behind that keeps it alive, so a loop
    # dropped unclosed is freed, and warns, at once rather than at the next collection.
    async def main():
        running = asyncio.get_running_loop()
        fut = running.create_future()
        running.call_soon(fut.set_result, 1)
        return await fut + await running.create_task(answer(2))

    ev = aioxide.new_event_loop()
    assert ev.run_until_complete(main()) == 3
    ref = weakref.ref(ev)
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        with warnings.catch_warnings():
            # A recorded warning would keep the loop alive through its `source`.
            warnings.simplefilter("ignore", ResourceWarning)
            del ev
            assert ref() is None
    finally:
        if gc_was_enabled:
            gc.enable()


def test_loop_repr(loop):
    loop.set_debug(False)  # the default, unless PYTHONASYNCIODEBUG=1 says otherwise
    assert re.fullmatch(r"<\w+ running=False closed=False debug=False>", repr(loop))
    seen = []
    loop.call_soon(lambda: seen.append(repr(loop)))
    run_briefly(loop)
    assert re.fullmatch(r"<\w+ running=True closed=False debug=False>", seen[0])
    loop.close()
    assert re.fullmatch(r"<\w+ running=False closed=True debug=False>", repr(loop))


# -- KeyboardInterrupt, SystemExit and callback errors -------------------------------------


@pytest.mark.parametrize("exc_type", [KeyboardInterrupt, SystemExit])
def test_base_exceptions_propagate_out_of_run_forever(loop, exc_type):
    seen = []

    def boom():
        raise exc_type()

    loop.call_soon(boom)
    loop.call_soon(seen.append, "after")
    with pytest.raises(exc_type):
        loop.run_forever()
    assert not loop.is_running()
    assert asyncio._get_running_loop() is None
    # The loop is usable again, and the callback queued after the failing one still runs.
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert seen == ["after"]
    assert loop.run_until_complete(answer(1)) == 1


@pytest.mark.parametrize("exc_type", [KeyboardInterrupt, SystemExit])
def test_base_exceptions_propagate_out_of_run_until_complete(loop, exc_type):
    with pytest.raises(exc_type):
        loop.run_until_complete(fail(exc_type()))
    assert not loop.is_running()
    assert loop.run_until_complete(answer(2)) == 2


def test_callback_exception_goes_to_the_handler_and_the_loop_continues(loop):
    contexts = []
    seen = []
    loop.set_exception_handler(lambda lp, ctx: contexts.append((lp, ctx)))

    def boom():
        raise ValueError("in callback")

    handle = loop.call_soon(boom)
    loop.call_soon(seen.append, "next")
    loop.call_later(0.01, seen.append, "timer")
    loop.call_later(0.02, loop.stop)
    loop.run_forever()
    assert seen == ["next", "timer"]
    assert len(contexts) == 1
    lp, ctx = contexts[0]
    assert lp is loop
    assert isinstance(ctx["exception"], ValueError)
    assert ctx["handle"] is handle
    assert ctx["message"].startswith("Exception in callback ")
    assert "boom()" in ctx["message"]
