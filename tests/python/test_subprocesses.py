"""Subprocesses through asyncio.create_subprocess_exec/_shell, on aioxide and stdlib
asyncio: output, exit status, signals, a child that dies under our writes, and many
children at once with none left unreaped."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time

import pytest
from _util import open_fd_count

PIPE = asyncio.subprocess.PIPE
TIMEOUT = 30


def run(loop, coro):
    return loop.run_until_complete(asyncio.wait_for(coro, TIMEOUT))


def test_communicate_and_exit_codes(loop):
    async def main():
        proc = await asyncio.create_subprocess_exec("cat", stdin=PIPE, stdout=PIPE)
        out, err = await proc.communicate(b"through cat")
        assert (out, err, proc.returncode) == (b"through cat", None, 0)
        proc = await asyncio.create_subprocess_shell("echo err >&2; exit 7", stderr=PIPE)
        _, err = await proc.communicate()
        assert (err, proc.returncode) == (b"err\n", 7)

    run(loop, main())


def test_signals_give_negative_returncodes(loop):
    async def main():
        proc = await asyncio.create_subprocess_exec("sleep", "30")
        proc.send_signal(signal.SIGTERM)
        assert await proc.wait() == -signal.SIGTERM
        proc = await asyncio.create_subprocess_exec("sleep", "30")
        proc.kill()
        assert await proc.wait() == -signal.SIGKILL

    run(loop, main())


def test_popen_options_pass_through(loop, tmp_path):
    async def main():
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", "import os; print(os.getcwd(), os.environ['X'])",
            stdout=PIPE, cwd=tmp_path, env={"X": "from-env"})
        out, _ = await proc.communicate()
        assert out.decode().split() == [str(tmp_path), "from-env"]

    run(loop, main())


def test_bad_arguments(loop):
    async def main():
        with pytest.raises(ValueError, match="bufsize must be 0"):
            await loop.subprocess_exec(asyncio.SubprocessProtocol, "true", bufsize=1)
        with pytest.raises(ValueError, match="cmd must be a string"):
            await loop.subprocess_shell(asyncio.SubprocessProtocol, ["true"])
        with pytest.raises(FileNotFoundError):
            await asyncio.create_subprocess_exec("/nonexistent/program")

    run(loop, main())


def test_child_dying_while_we_write(loop):
    async def main():
        proc = await asyncio.create_subprocess_exec("true", stdin=PIPE)
        await proc.wait()
        with pytest.raises((BrokenPipeError, ConnectionResetError)):
            for _ in range(100):
                proc.stdin.write(b"x" * 65536)
                await proc.stdin.drain()

    run(loop, main())


def _zombies_of(pid: int) -> list[str]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] == "Z" and int(fields[1]) == pid:
            found.append(entry)
    return found


def test_many_concurrent_children_leave_no_zombie(loop):
    count = 1000

    async def one(i):
        proc = await asyncio.create_subprocess_exec("sh", "-c", f"exit {i % 7}")
        return await proc.wait()

    async def main():
        codes = await asyncio.gather(*[one(i) for i in range(count)])
        assert codes == [i % 7 for i in range(count)]

    before = open_fd_count()
    run(loop, main())
    assert _zombies_of(os.getpid()) == []
    assert open_fd_count() == before


def _state(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]  # R, S, Z, ...
    except FileNotFoundError:
        return "gone"


def test_child_running_when_the_loop_closes_is_reaped(loop, caplog, is_aioxide):
    """asyncio's watcher reaps a child that outlives its loop (and warns): no zombie."""
    if not is_aioxide and sys.version_info >= (3, 12):
        pytest.skip("3.12+'s pidfd watcher leaves the child a zombie; aioxide reaps it")

    async def main():
        proc = await asyncio.create_subprocess_exec(sys.executable, "-c",
                                                    "import time; time.sleep(0.3)")
        return proc

    proc = run(loop, main())
    with caplog.at_level("WARNING", logger="asyncio"):
        loop.close()
        deadline = time.monotonic() + 10
        while _state(proc.pid) != "gone" and time.monotonic() < deadline:
            time.sleep(0.02)
        assert _state(proc.pid) == "gone"  # exited and collected, not a zombie
        while time.monotonic() < deadline and not any(
                "that handles pid" in r.getMessage() for r in caplog.records):
            time.sleep(0.02)
    assert any(f"that handles pid {proc.pid} is closed" in r.getMessage()
               for r in caplog.records)


def test_a_child_reaped_by_someone_else_reports_255_with_asyncios_warning(aioxide_loop, caplog):
    # The pidfd turns readable; before the loop reaps, the application does (a SIGCHLD
    # handler that reaps everything, say): asyncio's warning and returncode 255.
    async def main():
        proc = await asyncio.create_subprocess_exec(sys.executable, "-c", "pass")
        os.waitpid(proc.pid, 0)  # exits and is reaped here, before the loop looks
        return await asyncio.wait_for(proc.wait(), TIMEOUT)

    with caplog.at_level("WARNING", logger="asyncio"):
        assert run(aioxide_loop, main()) == 255
    assert "child process pid" in caplog.text and "exit status already read" in caplog.text
