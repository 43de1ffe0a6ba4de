"""Futures, tasks and the asyncio combinators running on the loop."""

from __future__ import annotations

import asyncio
import contextvars
import sys

import aioxide
import pytest

var = contextvars.ContextVar("var", default="unset")


async def value_after(value, delay=0.0):
    await asyncio.sleep(delay)
    return value


# -- futures -------------------------------------------------------------------------------


def test_create_future_belongs_to_the_loop(loop):
    fut = loop.create_future()
    assert isinstance(fut, asyncio.Future)
    assert fut.get_loop() is loop
    assert not fut.done()


def test_future_done_callbacks_run_soon_in_order(loop):
    fut = loop.create_future()
    seen = []
    fut.add_done_callback(lambda f: seen.append(("first", f.result())))
    fut.add_done_callback(lambda f: seen.append(("second", f.result())))
    fut.set_result(5)
    assert seen == []  # scheduled with call_soon, not run inline
    loop.run_until_complete(asyncio.sleep(0))
    assert seen == [("first", 5), ("second", 5)]


def test_future_done_callback_runs_in_the_given_context(loop):
    ctx = contextvars.copy_context()
    ctx.run(var.set, "cb-context")
    seen = []
    fut = loop.create_future()
    fut.add_done_callback(lambda f: seen.append(var.get()), context=ctx)
    fut.set_result(None)
    loop.run_until_complete(fut)
    loop.run_until_complete(asyncio.sleep(0))
    assert seen == ["cb-context"]


# -- tasks ---------------------------------------------------------------------------------


def test_create_task_name(loop):
    async def main():
        named = loop.create_task(value_after(1), name="worker")
        unnamed = loop.create_task(value_after(2))
        assert named.get_name() == "worker"
        assert unnamed.get_name().startswith("Task-")
        return await named, await unnamed

    assert loop.run_until_complete(main()) == (1, 2)


def test_create_task_runs_in_the_given_context(loop):
    ctx = contextvars.copy_context()
    ctx.run(var.set, "task-context")

    async def read_and_write():
        before = var.get()
        var.set("written-by-task")
        return before

    task = loop.create_task(read_and_write(), context=ctx)
    assert loop.run_until_complete(task) == "task-context"
    assert ctx[var] == "written-by-task"
    assert var.get() == "unset"


def test_task_copies_the_current_context_by_default(loop):
    async def read():
        return var.get()

    token = var.set("current")
    try:
        task = loop.create_task(read())
    finally:
        var.reset(token)
    assert loop.run_until_complete(task) == "current"


def test_task_cancel(loop):
    started = loop.create_future()

    async def sleeper():
        started.set_result(None)
        await asyncio.sleep(3600)

    async def main():
        task = loop.create_task(sleeper())
        await started
        assert task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return task

    task = loop.run_until_complete(main())
    assert task.cancelled()


def test_ensure_future(loop):
    async def main():
        fut = loop.create_future()
        assert asyncio.ensure_future(fut) is fut
        task = asyncio.ensure_future(value_after("x"))
        assert isinstance(task, asyncio.Task)
        assert task.get_loop() is loop
        fut.set_result("y")
        return await task, await fut

    assert loop.run_until_complete(main()) == ("x", "y")


def test_ensure_future_with_explicit_loop(loop):
    task = asyncio.ensure_future(value_after(3), loop=loop)
    assert task.get_loop() is loop
    assert loop.run_until_complete(task) == 3


# -- task factory --------------------------------------------------------------------------


def test_task_factory_receives_loop_and_coroutine(loop):
    calls = []

    def factory(lp, coro, **kwargs):
        calls.append((lp, coro, kwargs))
        return asyncio.Task(coro, loop=lp, **kwargs)

    assert loop.get_task_factory() is None
    loop.set_task_factory(factory)
    assert loop.get_task_factory() is factory
    coro = value_after(4)
    task = loop.create_task(coro, name="via-factory")
    assert loop.run_until_complete(task) == 4
    assert task.get_name() == "via-factory"
    assert len(calls) == 1
    assert calls[0][0] is loop
    assert calls[0][1] is coro
    loop.set_task_factory(None)
    assert loop.get_task_factory() is None
    assert loop.run_until_complete(loop.create_task(value_after(5))) == 5
    assert len(calls) == 1


def test_task_factory_receives_context(loop):
    ctx = contextvars.copy_context()
    seen = []

    def factory(lp, coro, **kwargs):
        seen.append(kwargs.get("context"))
        return asyncio.Task(coro, loop=lp, **kwargs)

    loop.set_task_factory(factory)
    loop.run_until_complete(loop.create_task(value_after(0), context=ctx))
    assert seen == [ctx]


def test_task_factory_receives_extra_kwargs(loop, is_aioxide):
    if not is_aioxide and sys.version_info < (3, 13):
        pytest.skip("the stdlib create_task() takes extra keywords from Python 3.13")
    seen = []

    def factory(lp, coro, **kwargs):
        seen.append(kwargs)
        return asyncio.Task(coro, loop=lp)

    loop.set_task_factory(factory)
    task = loop.create_task(value_after(1), custom_flag=True)
    assert loop.run_until_complete(task) == 1
    assert seen == [{"custom_flag": True}]


def test_set_task_factory_rejects_a_non_callable(loop):
    with pytest.raises(TypeError, match="task factory must be a callable or None"):
        loop.set_task_factory(42)
    assert loop.get_task_factory() is None


def test_aioxide_create_task_passes_unknown_kwargs_to_task():
    # aioxide-specific (3.11's stdlib create_task has no **kwargs): without a factory the
    # extra keywords go to asyncio.Task, which rejects unknown ones.
    loop = aioxide.new_event_loop()
    coro = value_after(1)
    try:
        with pytest.raises(TypeError):
            loop.create_task(coro, no_such_option=1)
    finally:
        coro.close()
        loop.close()


# -- combinators ---------------------------------------------------------------------------


def test_gather(loop):
    async def main():
        return await asyncio.gather(value_after(1, 0.02), value_after(2, 0.01), value_after(3))

    assert loop.run_until_complete(main()) == [1, 2, 3]


def test_gather_return_exceptions(loop):
    async def bad():
        raise KeyError("bad")

    async def main():
        return await asyncio.gather(value_after(1), bad(), return_exceptions=True)

    first, second = loop.run_until_complete(main())
    assert first == 1
    assert isinstance(second, KeyError)


def test_wait_first_completed(loop):
    async def main():
        slow = asyncio.ensure_future(asyncio.sleep(3600))
        fast = asyncio.ensure_future(value_after("fast", 0.01))
        done, pending = await asyncio.wait({slow, fast}, return_when=asyncio.FIRST_COMPLETED)
        slow.cancel()
        return done == {fast}, pending == {slow}

    assert loop.run_until_complete(main()) == (True, True)


def test_wait_with_timeout(loop):
    async def main():
        slow = asyncio.ensure_future(asyncio.sleep(3600))
        done, pending = await asyncio.wait({slow}, timeout=0.01)
        slow.cancel()
        return done, pending == {slow}

    assert loop.run_until_complete(main()) == (set(), True)


def test_as_completed_yields_in_completion_order(loop):
    async def main():
        futs = [loop.create_future() for _ in range(3)]
        loop.call_soon(futs[2].set_result, "c")
        loop.call_later(0.01, futs[0].set_result, "a")
        loop.call_later(0.02, futs[1].set_result, "b")
        return [await f for f in asyncio.as_completed(futs)]

    assert loop.run_until_complete(main()) == ["c", "a", "b"]


def test_task_group(loop):
    async def main():
        async with asyncio.TaskGroup() as tg:
            tasks = [tg.create_task(value_after(i, 0.001 * i)) for i in range(5)]
        return [t.result() for t in tasks]

    assert loop.run_until_complete(main()) == [0, 1, 2, 3, 4]


def test_task_group_failure_cancels_siblings(loop):
    cancelled = []

    async def sibling():
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    async def failing():
        await asyncio.sleep(0.01)
        raise ValueError("group")

    async def main():
        async with asyncio.TaskGroup() as tg:
            tg.create_task(sibling())
            tg.create_task(failing())

    with pytest.raises(ExceptionGroup) as info:
        loop.run_until_complete(main())
    assert [type(e) for e in info.value.exceptions] == [ValueError]
    assert cancelled == [True]


def test_timeout(loop):
    async def main():
        start = loop.time()
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.02):
                await asyncio.sleep(3600)
        return loop.time() - start

    elapsed = loop.run_until_complete(main())
    assert 0.015 <= elapsed < 1


def test_timeout_not_reached(loop):
    async def main():
        async with asyncio.timeout(5):
            return await value_after("in time", 0.001)

    assert loop.run_until_complete(main()) == "in time"


def test_wait_for(loop):
    async def main():
        ok = await asyncio.wait_for(value_after("ok", 0.001), 5)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(asyncio.sleep(3600), 0.01)
        return ok

    assert loop.run_until_complete(main()) == "ok"


def test_sleep_ordering(loop):
    seen = []

    async def sleeper(delay, tag):
        await asyncio.sleep(delay)
        seen.append(tag)

    async def main():
        await asyncio.gather(sleeper(0.03, "c"), sleeper(0.01, "a"), sleeper(0.02, "b"))

    loop.run_until_complete(main())
    assert seen == ["a", "b", "c"]


def test_sleep_zero_interleaves_tasks(loop):
    seen = []

    async def worker(tag):
        for i in range(3):
            seen.append((tag, i))
            await asyncio.sleep(0)

    async def main():
        await asyncio.gather(worker("a"), worker("b"))

    loop.run_until_complete(main())
    assert seen == [("a", 0), ("b", 0), ("a", 1), ("b", 1), ("a", 2), ("b", 2)]


def test_sleep_returns_its_result(loop):
    assert loop.run_until_complete(asyncio.sleep(0.001, result="r")) == "r"


def test_queue_producer_consumer(loop):
    async def main():
        queue = asyncio.Queue(maxsize=2)
        got = []

        async def producer():
            for i in range(20):
                await queue.put(i)
            await queue.put(None)

        async def consumer():
            while (item := await queue.get()) is not None:
                got.append(item)

        await asyncio.gather(producer(), consumer())
        return got

    assert loop.run_until_complete(main()) == list(range(20))


def test_event_and_lock(loop):
    async def main():
        event = asyncio.Event()
        lock = asyncio.Lock()
        order = []

        async def waiter(tag):
            await event.wait()
            async with lock:
                order.append(tag)
                await asyncio.sleep(0)

        tasks = [asyncio.create_task(waiter(t)) for t in "abc"]
        await asyncio.sleep(0)
        assert order == []
        event.set()
        await asyncio.gather(*tasks)
        return order

    assert loop.run_until_complete(main()) == ["a", "b", "c"]
