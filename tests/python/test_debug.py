"""asyncio's debug mode on the loop."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import time

import pytest
from _util import run_briefly


def cb():
    pass


def boom():
    raise ValueError("debug boom")


def slow():
    time.sleep(0.03)  # the slow callback itself, not a wait for anything


@pytest.fixture
def debug_loop(loop):
    loop.set_debug(True)
    return loop


def test_set_debug_and_get_debug(loop):
    # asyncio's default: on in development mode or with PYTHONASYNCIODEBUG set
    env = not sys.flags.ignore_environment and bool(os.environ.get("PYTHONASYNCIODEBUG"))
    assert loop.get_debug() is (sys.flags.dev_mode or env)
    loop.set_debug(False)
    assert loop.get_debug() is False
    loop.set_debug(True)
    assert loop.get_debug() is True
    loop.set_debug(False)
    assert loop.get_debug() is False


@pytest.mark.parametrize("factory", ["aioxide.new_event_loop", "asyncio.new_event_loop"])
def test_pythonasynciodebug_enables_debug_mode(factory):
    code = f"import asyncio, aioxide\nloop = {factory}()\nprint(loop.get_debug())\nloop.close()\n"
    env = dict(os.environ, PYTHONASYNCIODEBUG="1")
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, env=env
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "True"


def test_debug_mode_tracks_coroutine_origins_while_running(loop):
    loop.set_debug(False)  # the default, unless PYTHONASYNCIODEBUG=1 says otherwise
    before = sys.get_coroutine_origin_tracking_depth()
    seen = []
    loop.call_soon(lambda: seen.append(sys.get_coroutine_origin_tracking_depth()))
    run_briefly(loop)
    loop.set_debug(True)
    loop.call_soon(lambda: seen.append(sys.get_coroutine_origin_tracking_depth()))
    run_briefly(loop)
    assert seen[0] == before
    assert seen[1] > 0
    assert sys.get_coroutine_origin_tracking_depth() == before


def test_debug_mode_warns_about_slow_callbacks(debug_loop, caplog):
    caplog.set_level(logging.WARNING, logger="asyncio")
    debug_loop.slow_callback_duration = 0.01
    debug_loop.call_soon(slow)
    debug_loop.call_soon(cb)
    run_briefly(debug_loop)
    warnings = [
        r.getMessage()
        for r in caplog.records
        if r.name == "asyncio" and r.levelno == logging.WARNING
    ]
    assert len(warnings) == 1, warnings
    assert re.match(r"Executing <Handle slow\(\) at .+> took \d+\.\d{3} seconds$", warnings[0])


def test_a_slow_task_step_is_named_by_its_task(debug_loop, caplog):
    caplog.set_level(logging.WARNING, logger="asyncio")
    debug_loop.slow_callback_duration = 0.01

    async def blocks():
        time.sleep(0.02)

    debug_loop.run_until_complete(debug_loop.create_task(blocks(), name="blocker"))
    warnings = [r.getMessage() for r in caplog.records if r.name == "asyncio"]
    assert any(re.match(r"Executing <Task .*name='blocker'.*> took \d+\.\d{3} seconds$", w)
               for w in warnings), warnings


def test_current_handle_is_the_running_one_in_debug_mode(debug_loop):
    seen = []
    handle = debug_loop.call_soon(lambda: seen.append(debug_loop._current_handle))
    run_briefly(debug_loop)
    assert seen == [handle]
    assert debug_loop._current_handle is None


def test_debug_mode_handle_repr_tells_where_it_was_created(debug_loop):
    handle = debug_loop.call_soon(cb)
    assert re.fullmatch(
        r"<Handle cb\(\) at .+test_debug\.py:\d+ created at .+test_debug\.py:\d+>", repr(handle)
    )


def test_debug_mode_callback_error_log_tells_where_it_was_scheduled(debug_loop, caplog):
    caplog.set_level(logging.ERROR, logger="asyncio")
    debug_loop.call_soon(boom)
    run_briefly(debug_loop)
    [record] = [r for r in caplog.records if r.name == "asyncio" and r.levelno == logging.ERROR]
    message = record.getMessage()
    assert message.startswith("Exception in callback boom()")
    assert "Object created at (most recent call last):" in message
    assert "test_debug.py" in message.split("Object created at", 1)[1]


def test_debug_mode_does_not_change_results(debug_loop):
    async def main():
        return 40 + 2

    assert debug_loop.run_until_complete(main()) == 42
