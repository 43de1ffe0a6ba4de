"""Eight threads at once against one running loop, through the thread-safe entry points
only (asyncio's rule): ``call_soon_threadsafe``, ``run_coroutine_threadsafe`` and
futures completed from other threads. Bounded in time; nothing may be lost, run twice,
or left waiting. On a free-threaded build this is where missing locking would show."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time

THREADS = 8
SECONDS = 1.5
MAX_PER_THREAD = 20_000


def test_eight_threads_hammer_the_threadsafe_entry_points(loop):
    counts = [0] * THREADS  # callbacks run, per thread (only the loop thread writes)
    sent = [0] * THREADS  # callbacks scheduled, per thread (only that thread writes)
    completed = []  # results of run_coroutine_threadsafe and of cross-thread futures
    errors = []
    stop_at = time.monotonic() + SECONDS

    def ran(tag, i):
        assert counts[tag] == i, (tag, counts[tag], i)  # in order, none lost or repeated
        counts[tag] += 1

    async def double(x):
        await asyncio.sleep(0)
        return 2 * x

    async def wait_for_foreign(fut):
        return await fut

    def worker(tag):
        try:
            i = 0
            while time.monotonic() < stop_at and i < MAX_PER_THREAD:
                loop.call_soon_threadsafe(ran, tag, i)
                i += 1
                sent[tag] = i
                if i % 50 == 0:
                    cf = asyncio.run_coroutine_threadsafe(double(i), loop)
                    completed.append(cf.result(timeout=10) == 2 * i)
                if i % 70 == 0:
                    # a loop future, completed from this thread while a task awaits it
                    fut = concurrent.futures.Future()
                    waiter = asyncio.run_coroutine_threadsafe(
                        wait_for_foreign(asyncio.wrap_future(fut, loop=loop)), loop)
                    fut.set_result(i)
                    completed.append(waiter.result(timeout=10) == i)
        except BaseException as exc:  # reported below, with the thread's tag
            errors.append((tag, exc))

    async def main():
        threads = [threading.Thread(target=worker, args=(t,)) for t in range(THREADS)]
        for t in threads:
            t.start()
        while any(t.is_alive() for t in threads):
            await asyncio.sleep(0.01)
        for t in threads:
            t.join()
        # every callback scheduled before the threads ended runs within a few iterations
        deadline = time.monotonic() + 10
        while counts != sent and time.monotonic() < deadline:
            await asyncio.sleep(0.01)

    loop.run_until_complete(asyncio.wait_for(main(), 60))
    assert errors == []
    assert counts == sent
    assert all(n > 0 for n in sent)
    assert completed and all(completed)
