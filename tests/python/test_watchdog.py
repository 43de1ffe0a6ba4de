"""aioxide.debug: the blocking watchdog (aioxide-specific: stdlib asyncio has none)."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import subprocess
import sys
import threading
import time
import weakref

import aioxide
import aioxide.debug
import pytest

SLEEP_LINE = None  # set by _blocking_handler's first line


class Collect(logging.Handler):
    """Keeps the watchdog's records and signals each one."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.arrived = threading.Event()

    def emit(self, record):
        self.records.append(record)
        self.arrived.set()


@pytest.fixture
def records():
    handler = Collect()
    log = logging.getLogger("aioxide.debug")
    log.addHandler(handler)
    old_level = log.level
    log.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        log.removeHandler(handler)
        log.setLevel(old_level)


async def _blocking_handler(seconds):
    await asyncio.sleep(0)
    time.sleep(seconds)  # BLOCKS-HERE
    return "done"


def _line_of(marker: str) -> int:
    with open(__file__) as f:
        for number, line in enumerate(f, 1):
            if marker in line and "def _line_of" not in line and "marker in" not in line:
                return number
    raise AssertionError(marker)


@pytest.mark.timeout(20)
def test_record_names_the_blocking_line_and_the_task(aioxide_loop, records):
    loop = aioxide_loop
    dog = aioxide.debug.watchdog(threshold=0.1, loop=loop)

    async def main():
        task = asyncio.create_task(_blocking_handler(0.5), name="slow-handler")
        assert await task == "done"
        # The record is written once the loop has moved on.
        await loop.run_in_executor(None, records.arrived.wait, 5)

    loop.run_until_complete(main())
    assert dog.reports == 1
    (record,) = records.records
    assert record.levelno == logging.WARNING
    message = record.getMessage()
    line = _line_of("# BLOCKS-HERE")
    assert f"{__file__}:{line}" in message
    assert "time.sleep(seconds)" in message
    assert "'slow-handler'" in message
    assert record.aioxide_site == (__file__, line)
    assert record.aioxide_task.get_name() == "slow-handler"
    assert 0.45 <= record.aioxide_blocked < 5


@pytest.mark.timeout(30)
def test_an_idle_loop_produces_no_record(aioxide_loop, records):
    loop = aioxide_loop
    aioxide.debug.watchdog(threshold=0.05, loop=loop)
    loop.run_until_complete(asyncio.sleep(10))
    assert records.records == []


@pytest.mark.timeout(20)
def test_fast_callbacks_produce_no_record(aioxide_loop, records):
    loop = aioxide_loop
    aioxide.debug.watchdog(threshold=0.05, loop=loop)

    async def main():
        for _ in range(20_000):
            await asyncio.sleep(0)

    loop.run_until_complete(main())
    assert records.records == []


@pytest.mark.timeout(20)
def test_repeated_stalls_at_one_line_are_rate_limited(aioxide_loop, records):
    loop = aioxide_loop
    dog = aioxide.debug.watchdog(threshold=0.05, loop=loop, repeat_interval=60)

    async def main():
        for _ in range(3):
            await _blocking_handler(0.15)
            await asyncio.sleep(0.1)  # let the watchdog see the loop return

    loop.run_until_complete(main())
    assert dog.reports == 1
    assert len(records.records) == 1


def test_watchdog_thread_stops_when_the_loop_closes(records):
    loop = aioxide.new_event_loop()
    dog = aioxide.debug.watchdog(threshold=0.1, loop=loop)
    loop.run_until_complete(asyncio.sleep(0.01))
    assert dog.running
    loop.close()
    assert not dog.running
    assert not any(t.name == "aioxide-watchdog" and t.is_alive() for t in threading.enumerate()
                   if t is dog._thread)


@pytest.mark.timeout(30)
def test_a_watched_loop_dropped_unclosed_is_freed_and_warns(records):
    # The watchdog thread must not keep its loop alive: asyncio's "unclosed event loop"
    # warning would never come, and the loop and the thread would live forever.
    loop = aioxide.new_event_loop()
    loop.set_debug(True)
    loop.run_until_complete(asyncio.sleep(0.01))
    dog = loop._watchdog
    assert dog.running
    ref = weakref.ref(loop)
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        with pytest.warns(ResourceWarning, match="unclosed event loop"):
            del loop
        assert ref() is None
    finally:
        if gc_was_enabled:
            gc.enable()
    dog._thread and dog._thread.join(timeout=5)
    assert not dog.running
    assert dog.loop is None


def test_watchdog_is_off_by_default(aioxide_loop):
    loop = aioxide_loop
    loop.set_debug(False)  # PYTHONASYNCIODEBUG=1 turns it on

    async def main():
        return loop._probe_current()

    assert loop.run_until_complete(main()) is None
    assert loop._watchdog is None


def test_debug_mode_turns_the_watchdog_on(aioxide_loop):
    loop = aioxide_loop
    loop.set_debug(True)
    loop.run_until_complete(asyncio.sleep(0))
    assert loop._watchdog is not None and loop._watchdog.running
    assert loop._watchdog.threshold == loop.slow_callback_duration


def test_watchdog_needs_an_aioxide_loop():
    loop = asyncio.new_event_loop()
    try:
        with pytest.raises(TypeError):
            aioxide.debug.watchdog(0.1, loop=loop)
    finally:
        loop.close()


@pytest.mark.parametrize("bad", [0, -1.0])
def test_watchdog_threshold_must_be_positive(aioxide_loop, bad):
    with pytest.raises(ValueError):
        aioxide.debug.watchdog(bad, loop=aioxide_loop)


@pytest.mark.timeout(30)
def test_environment_variable_turns_the_watchdog_on(tmp_path):
    script = tmp_path / "blocker.py"
    script.write_text(
        "import asyncio, logging, time, aioxide\n"
        "logging.basicConfig(level=logging.WARNING)\n"
        "async def main():\n"
        "    time.sleep(0.4)\n"
        "    await asyncio.sleep(0.3)\n"
        "aioxide.run(main())\n"
    )
    env = {**os.environ, "AIOXIDE_WATCHDOG": "0.1"}
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         env=env, timeout=25)
    assert out.returncode == 0, out.stderr
    assert "event loop blocked for" in out.stderr
    assert f"{script}:4" in out.stderr


def test_set_debug_on_a_running_loop_starts_the_watchdog(aioxide_loop):
    loop = aioxide_loop

    async def main():
        loop.set_debug(True)
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        return loop._watchdog is not None and loop._watchdog.running

    assert loop.run_until_complete(main())
