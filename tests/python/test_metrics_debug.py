"""loop.metrics(), forbid_unawaited() and debug-mode checks."""

from __future__ import annotations

import asyncio
import gc
import threading
import time

import aioxide
import aioxide.debug
import pytest


def test_metrics_add_up_over_a_scripted_workload(aioxide_loop):
    loop = aioxide_loop
    done = []

    async def main():
        for i in range(100):
            loop.call_soon(done.append, i)
        await asyncio.sleep(0.05)
        time.sleep(0.1)  # one known stall
        await asyncio.sleep(0)

    before = loop.metrics()
    loop.run_until_complete(main())
    m = aioxide.debug.metrics(loop)
    assert len(done) == 100
    assert m["callbacks"] - before["callbacks"] >= 100
    assert m["iterations"] > before["iterations"]
    assert m["longest_stall"] >= 0.1
    assert m["waiting_time"] >= 0.04
    assert m["busy_time"] >= 0.1
    total = m["waiting_time"] + m["busy_time"]
    assert abs(total - m["running_time"]) < 1e-6
    assert m["ready"] == 0 and m["timers"] == 0
    assert 0 <= m["lag"] < 1


def test_metrics_lag_counts_late_timers(aioxide_loop):
    loop = aioxide_loop

    async def main():
        loop.call_later(0.01, lambda: None)
        time.sleep(0.1)  # the timer becomes due while we block
        await asyncio.sleep(0)

    loop.run_until_complete(main())
    assert loop.metrics()["lag"] >= 0.08


def test_metrics_reads_the_running_loop():
    async def main():
        await asyncio.sleep(0)
        return aioxide.debug.metrics()

    m = aioxide.run(main())
    assert m["callbacks"] >= 1


def test_forbid_unawaited_names_the_creation_site():
    async def never():
        return 1

    with pytest.raises(aioxide.debug.UnawaitedCoroutineError) as info:
        with aioxide.debug.forbid_unawaited():
            coro = never()  # CREATED-HERE
            del coro
    text = str(info.value)
    assert "never" in text and "was never awaited" in text
    assert "CREATED-HERE" in text or "coro = never()" in text
    assert __file__ in text


def test_forbid_unawaited_accepts_awaited_coroutines():
    async def fine():
        return 2

    with aioxide.debug.forbid_unawaited():
        assert aioxide.run(fine()) == 2
        gc.collect()


def test_forbid_unawaited_does_not_mask_the_body_error():
    async def never():
        return 1

    with pytest.raises(KeyError):
        with aioxide.debug.forbid_unawaited():
            never()
            raise KeyError("body")


def test_debug_mode_refuses_calls_from_another_thread(loop):
    loop.set_debug(True)
    errors = []

    def other_thread():
        try:
            loop.call_soon(lambda: None)
        except RuntimeError as exc:
            errors.append(str(exc))

    async def main():
        t = threading.Thread(target=other_thread)
        t.start()
        await loop.run_in_executor(None, t.join)

    loop.run_until_complete(main())
    assert errors and "Non-thread-safe operation" in errors[0]


def test_debug_mode_tracks_coroutine_origins(loop):
    import sys

    loop.set_debug(True)

    async def main():
        return sys.get_coroutine_origin_tracking_depth()

    assert loop.run_until_complete(main()) > 0
