"""Spawning a child: the errors asyncio raises, cancellation and loop close while a spawn
is in flight, and (aioxide) a loop that keeps running while ``Popen`` waits for exec."""

from __future__ import annotations

import asyncio
import errno
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import aioxide
import pytest
from _util import open_fd_count

PIPE = asyncio.subprocess.PIPE
TIMEOUT = 30


def run(loop, coro):
    return loop.run_until_complete(asyncio.wait_for(coro, TIMEOUT))


def _raise_in_child():
    raise RuntimeError("preexec_fn fails")


def _slow_exec(pidfile: str, seconds: float):
    """A ``preexec_fn`` that records the child's pid and delays its exec."""

    def preexec():
        with open(pidfile, "w") as f:
            f.write(str(os.getpid()))
        time.sleep(seconds)

    return preexec


def _gone(pid: int) -> bool:
    """Exited and reaped (a zombie still has its /proc entry)."""
    return not os.path.exists(f"/proc/{pid}")


def _wait_until(predicate, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@pytest.mark.parametrize("case", ["missing", "directory", "not-executable", "preexec_fn"])
def test_spawn_errors_are_asyncios(loop, tmp_path, case):
    script = tmp_path / "script.sh"
    script.write_text("#!/bin/sh\n")  # mode 0644: not executable
    program, kwargs = {
        "missing": (str(tmp_path / "nope"), {}),
        "directory": (str(tmp_path), {}),
        "not-executable": (str(script), {}),
        "preexec_fn": ("true", {"preexec_fn": _raise_in_child}),
    }[case]
    before = open_fd_count()
    with pytest.raises((OSError, subprocess.SubprocessError)) as info:
        run(loop, asyncio.create_subprocess_exec(program, stdout=PIPE, **kwargs))
    exc = info.value
    if case == "preexec_fn":
        assert type(exc) is subprocess.SubprocessError
        assert str(exc) == "Exception occurred in preexec_fn."
    else:
        expected = FileNotFoundError if case == "missing" else PermissionError
        assert type(exc) is expected
        assert exc.errno == (errno.ENOENT if case == "missing" else errno.EACCES)
        assert exc.filename == program
    assert open_fd_count() == before


def test_cancelled_while_spawning_kills_and_reaps(loop, tmp_path):
    pidfile = tmp_path / "pid"

    async def main():
        task = asyncio.ensure_future(asyncio.create_subprocess_exec(
            "sleep", "30", stdin=PIPE, stdout=PIPE, stderr=PIPE,
            preexec_fn=_slow_exec(str(pidfile), 0.5)))
        while not pidfile.exists() or not pidfile.read_text():
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    before = open_fd_count()
    run(loop, main())
    pid = int(pidfile.read_text())
    assert _wait_until(lambda: _gone(pid)), f"child {pid} was not killed and reaped"
    assert _wait_until(lambda: open_fd_count() == before)


def test_loop_closed_while_spawning_kills_and_reaps(tmp_path):
    pidfile = tmp_path / "pid"
    before = open_fd_count()
    loop = aioxide.new_event_loop()

    async def start():
        return asyncio.ensure_future(asyncio.create_subprocess_exec(
            "sleep", "30", stdout=PIPE, preexec_fn=_slow_exec(str(pidfile), 0.5)))

    task = loop.run_until_complete(start())
    loop.run_until_complete(asyncio.sleep(0.1))  # the spawn is in flight
    task._log_destroy_pending = False  # left pending on purpose
    loop.close()
    assert _wait_until(lambda: pidfile.exists() and pidfile.read_text() != "")
    pid = int(pidfile.read_text())
    assert _wait_until(lambda: _gone(pid)), f"child {pid} was not killed and reaped"
    assert _wait_until(lambda: open_fd_count() == before)


def test_loop_runs_while_the_child_execs(aioxide_loop, tmp_path):
    """The ``Popen`` wait for exec (here a 1 s ``preexec_fn``) happens off the loop
    thread: a ticker keeps running meanwhile. (stdlib asyncio blocks here.)"""
    pidfile = tmp_path / "pid"

    async def main():
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        tick_task = asyncio.ensure_future(ticker())
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", "print('hi')", stdout=PIPE,
            preexec_fn=_slow_exec(str(pidfile), 1.0))
        during = ticks
        out, _ = await proc.communicate()
        tick_task.cancel()
        return during, out, proc.returncode

    during, out, code = run(aioxide_loop, main())
    assert (out, code) == (b"hi\n", 0)
    assert during >= 10, f"the loop ticked only {during} times while the child exec'd"


def test_popen_options_still_apply(loop, tmp_path):
    """Options Popen applies between fork and exec, run on the spawner thread."""
    keep_r, keep_w = os.pipe()

    async def main():
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c",
            "import os, sys; os.write(int(sys.argv[1]), b'x');"
            "print(os.getsid(0) == os.getpid(), oct(os.umask(0)))",
            str(keep_w), stdout=PIPE, pass_fds=(keep_w,), start_new_session=True,
            umask=0o027)
        out, _ = await proc.communicate()
        return out, proc.returncode

    try:
        out, code = run(loop, main())
        assert (out, code) == (b"True 0o27\n", 0)
        assert os.read(keep_r, 1) == b"x"
    finally:
        os.close(keep_r)
        os.close(keep_w)


def test_spawns_from_a_large_parent_leave_the_loop_serving(tmp_path):
    """200 spawns from a parent holding 2 GiB of touched memory, half with a
    ``preexec_fn`` (a real fork, with the GIL held while the page tables are copied),
    while the loop serves a socket ping-pong under a 5 ms watchdog: every child exits 0,
    the ping-pong goes on, and the watchdog reports no stall in ``Popen`` (before, ``Popen``
    on the loop thread showed up here on every run, in ``subprocess.py``).

    Up to two stalls elsewhere in the spawning code are tolerated: while a spawner thread
    forks, the kernel holds the process's memory-map lock as it copies 2 GiB of page
    tables, and a page fault on the loop thread waits for it on whatever line it is (seen
    once on ``close()`` of a pidfd, on a loaded machine)."""
    helper = Path(__file__).with_name("_spawn_load.py")
    env = {**os.environ, "AIOXIDE_WATCHDOG": "0.005"}
    out = subprocess.run([sys.executable, str(helper), "--mib", "2048", "--children", "200"],
                         env=env, capture_output=True, text=True, timeout=240, check=True)
    result = json.loads(out.stdout)
    assert result["codes"] == [0] * 200
    assert result["trips"] >= 200
    package = Path(aioxide.__file__).parent
    spawning = {str(package / name) for name in
                ("_subprocess.py", "_spawner.py", "_transports/subprocess.py")}
    in_popen = [stall for stall in result["stalls"]
                if any(frame[0] == subprocess.__file__ for frame in stall["stack"])]
    ours = [stall for stall in result["stalls"]
            if any(frame[0] in spawning for frame in stall["stack"])]
    assert in_popen == []
    assert len(ours) <= 2, ours
