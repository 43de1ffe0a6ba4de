"""The engine itself: backend choice, foreign loops, loop close, fork."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import time

import aioxide
import aioxide.fs as afs
import pytest
from _util import fds_open_on, open_fd_count

SCRIPT = textwrap.dedent(
    """
    import asyncio, sys, aioxide, aioxide.fs as afs

    async def main(path):
        async with afs.open(path, "w", encoding="utf-8") as f:
            await f.write("".join(f"line {i}\\n" for i in range(20000)))
        lines = []
        async with afs.open(path, encoding="utf-8") as f:
            async for line in f:
                lines.append(line)
        assert lines == [f"line {i}\\n" for i in range(20000)], "lines differ"
        assert await afs.read_bytes(path) == open(path, "rb").read()
        print(afs.backend())

    aioxide.run(main(sys.argv[1]))
    """
)


def _run(tmp_path, backend: str | None) -> str:
    env = dict(os.environ)
    env.pop("AIOXIDE_FS_BACKEND", None)
    if backend is not None:
        env["AIOXIDE_FS_BACKEND"] = backend
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "f.txt")],
        env=env, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.timeout(120)
def test_threads_backend_is_forced_by_the_environment(tmp_path):
    assert _run(tmp_path, "threads") == "threads"


@pytest.mark.timeout(120)
def test_default_backend_works(tmp_path):
    assert _run(tmp_path, None) in ("io_uring", "threads")


@pytest.mark.timeout(60)
def test_works_on_uvloop(tmp_path):
    uvloop = pytest.importorskip("uvloop")
    path = tmp_path / "f.bin"

    async def main():
        await afs.write_bytes(path, b"a\nbb\nccc")
        async with afs.open(path, "rb") as f:
            return [line async for line in f]

    loop = uvloop.new_event_loop()
    try:
        assert loop.run_until_complete(main()) == [b"a\n", b"bb\n", b"ccc"]
    finally:
        loop.close()


@pytest.mark.timeout(60)
def test_closing_an_aioxide_loop_releases_the_engine(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"x")
    before = open_fd_count()
    for _ in range(20):
        loop = aioxide.new_event_loop()
        loop.run_until_complete(afs.read_bytes(path))
        loop.close()
    # the loop's epoll and waker fds, and the engine's eventfd and ring, are all gone
    assert open_fd_count() == before


@pytest.mark.timeout(60)
@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_forked_child_gets_an_engine_of_its_own(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"parent data")
    loop = aioxide.new_event_loop()
    try:
        loop.run_until_complete(afs.read_bytes(path))  # the parent's engine exists
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child reports through its exit status
            code = 1
            try:
                loop.close()
                child = aioxide.new_event_loop()
                data = child.run_until_complete(afs.read_bytes(path))
                child.close()
                code = 0 if data == b"parent data" else 2
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        # the parent's engine still works after the child closed its copy
        assert loop.run_until_complete(afs.read_bytes(path)) == b"parent data"
    finally:
        loop.close()


def test_using_fs_outside_a_running_loop_raises():
    coro = afs.read_bytes("x")
    with pytest.raises(RuntimeError, match="no running event loop"):
        coro.send(None)


@pytest.mark.timeout(60)
def test_an_open_finishing_after_its_loop_closed_leaks_no_descriptor(tmp_path):
    # Opening a FIFO for reading blocks (on a pool thread) until a writer comes: cancel
    # the open, close the loop, then let the open finish. Nobody is left to receive the
    # descriptor, so the engine must close it.
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    loop = aioxide.new_event_loop()

    async def start_open():
        task = loop.create_task(afs.open(fifo, "rb").__aenter__())
        for _ in range(5):
            await asyncio.sleep(0.01)  # the pool thread is now blocked in open(2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    loop.run_until_complete(start_open())
    loop.close()
    writer = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)  # the blocked open completes now
    try:
        # Writing to a FIFO fails with EPIPE once no reader is left: that is the moment
        # the engine closed what the pool thread opened.
        deadline = time.monotonic() + 5
        reader_closed = False
        while not reader_closed and time.monotonic() < deadline:
            try:
                os.write(writer, b"x")
            except BrokenPipeError:
                reader_closed = True
            else:
                time.sleep(0.01)
    finally:
        os.close(writer)
    assert reader_closed, "the descriptor opened for the cancelled open was never closed"
    assert fds_open_on(fifo) == []
