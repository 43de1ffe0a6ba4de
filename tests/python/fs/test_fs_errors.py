"""aioxide.fs errors: the same exceptions as built-in open, closed files, descriptor leaks."""

from __future__ import annotations

import asyncio
import io
import os
import shutil
import subprocess

import pytest
from _fs_helpers import afs, new_fds, open_fds, run
from aioxide.fs import _engine

pytestmark = pytest.mark.timeout(60)




async def aopen(*args, **kwargs):
    return await afs.open(*args, **kwargs)


def builtin_error(*args, **kwargs):
    try:
        open(*args, **kwargs).close()
    except Exception as exc:  # noqa: BLE001
        return exc
    raise AssertionError(f"built-in open{args} did not raise")


def check_same_error(loop, exc_type, *args, **kwargs):
    want = builtin_error(*args, **kwargs)
    assert type(want) is exc_type

    async def main():
        with pytest.raises(exc_type) as got:
            f = await afs.open(*args, **kwargs)
            await f.close()
        return got.value

    got = run(loop, main())
    assert type(got) is exc_type
    if isinstance(want, OSError):
        assert got.errno == want.errno
        assert os.fspath(got.filename) == os.fspath(want.filename)


# -- open errors --------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["r", "rb", "r+", "r+b"])
def test_file_not_found(loop, tmp_path, mode):
    check_same_error(loop, FileNotFoundError, tmp_path / "missing", mode)


@pytest.mark.parametrize("mode", ["w", "wb", "a", "x"])
def test_file_not_found_when_the_directory_is_missing(loop, tmp_path, mode):
    check_same_error(loop, FileNotFoundError, tmp_path / "no" / "such" / "file", mode)


@pytest.mark.parametrize("mode", ["r", "rb", "w", "wb", "a", "r+"])
def test_is_a_directory(loop, tmp_path, mode):
    check_same_error(loop, IsADirectoryError, tmp_path, mode)


def test_not_a_directory(loop, tmp_path):
    (tmp_path / "file").write_bytes(b"")
    check_same_error(loop, NotADirectoryError, tmp_path / "file" / "child", "r")


@pytest.mark.parametrize("mode", ["x", "xb", "x+", "x+b"])
def test_exclusive_creation_of_an_existing_file(loop, tmp_path, mode):
    path = tmp_path / "exists"
    path.write_bytes(b"keep me")
    check_same_error(loop, FileExistsError, path, mode)
    assert path.read_bytes() == b"keep me"


@pytest.mark.parametrize("mode", ["r", "w", "a", "r+"])
def test_permission_denied(loop, tmp_path, mode):
    if os.geteuid() == 0:
        pytest.skip("root ignores file permissions")
    path = tmp_path / "locked"
    path.write_bytes(b"secret")
    path.chmod(0)
    try:
        check_same_error(loop, PermissionError, path, mode)
    finally:
        path.chmod(0o600)


@pytest.mark.parametrize("mode", ["w", "a", "r+", "wb"])
def test_permission_denied_for_an_immutable_file(loop, tmp_path, mode):
    """chattr +i refuses writes even to root."""
    path = tmp_path / "immutable"
    path.write_bytes(b"frozen")
    if (
        shutil.which("chattr") is None
        or subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode
    ):
        pytest.skip("chattr +i is not available here")
    try:
        check_same_error(loop, PermissionError, path, mode)
        assert path.read_bytes() == b"frozen"
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def test_permission_denied_in_a_locked_directory(loop, tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root ignores file permissions")
    d = tmp_path / "locked"
    d.mkdir()
    d.chmod(0o500)
    try:
        check_same_error(loop, PermissionError, d / "new", "w")
    finally:
        d.chmod(0o700)


BAD_MODES = [
    "",
    "rw",
    "rr",
    "wa",
    "xw",
    "r++",
    "z",
    "rbt",
    "b",
    "+",
    "t",
    "rU",
    "bb",
    "rwb",
    "R",
    "r ",
    1,
]


@pytest.mark.parametrize("mode", BAD_MODES, ids=repr)
def test_bad_mode_is_a_value_error(loop, tmp_path, mode):
    path = tmp_path / "f"
    path.write_bytes(b"")
    want = builtin_error(path, mode)
    assert isinstance(want, (ValueError, TypeError))

    async def main():
        with pytest.raises(type(want)):
            await afs.open(path, mode)

    run(loop, main())
    assert path.read_bytes() == b""


@pytest.mark.parametrize(
    "kwargs",
    [
        {"mode": "r", "newline": "x"},
        {"mode": "r", "newline": "\n\n"},
        {"mode": "rb", "newline": "\n"},
        {"mode": "rb", "encoding": "utf-8"},
        {"mode": "wb", "errors": "strict"},
        {"mode": "r", "buffering": 0},
        {"mode": "w", "buffering": 0},
    ],
    ids=[
        "bad-newline",
        "bad-newline2",
        "newline-binary",
        "encoding-binary",
        "errors-binary",
        "unbuffered-text-r",
        "unbuffered-text-w",
    ],
)
def test_bad_arguments_are_value_errors(loop, tmp_path, kwargs):
    path = tmp_path / "f"
    path.write_bytes(b"data")
    ref = tmp_path / "ref"
    ref.write_bytes(b"data")
    assert isinstance(builtin_error(ref, **kwargs), ValueError)

    async def main():
        with pytest.raises(ValueError):
            await afs.open(path, **kwargs)

    run(loop, main())


def test_unknown_encoding_is_a_lookup_error(loop, tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"data")
    assert isinstance(builtin_error(path, "r", encoding="no-such-codec"), LookupError)

    async def main():
        with pytest.raises(LookupError):
            await afs.open(path, "r", encoding="no-such-codec")

    run(loop, main())


# -- wrong-mode operations -----------------------------------------------------------------


@pytest.mark.parametrize("mode", ["rb", "r"])
def test_writing_a_read_only_file_is_unsupported(loop, tmp_path, mode):
    path = tmp_path / "f"
    path.write_bytes(b"data\n")
    data = b"x" if "b" in mode else "x"
    kw = {} if "b" in mode else {"encoding": "utf-8"}

    async def main():
        async with afs.open(path, mode, **kw) as f:
            with pytest.raises(io.UnsupportedOperation):
                await f.write(data)
            with pytest.raises(io.UnsupportedOperation):
                await f.writelines([data])
            with pytest.raises(io.UnsupportedOperation):
                await f.truncate(0)
            # still usable
            assert await f.read() in (b"data\n", "data\n")

    run(loop, main())
    assert path.read_bytes() == b"data\n"


@pytest.mark.parametrize("mode", ["wb", "ab", "w", "a", "xb"])
def test_reading_a_write_only_file_is_unsupported(loop, tmp_path, mode):
    path = tmp_path / "f"
    kw = {} if "b" in mode else {"encoding": "utf-8"}
    data = b"written" if "b" in mode else "written"

    async def main():
        async with afs.open(path, mode, **kw) as f:
            with pytest.raises(io.UnsupportedOperation):
                await f.read()
            with pytest.raises(io.UnsupportedOperation):
                await f.read(1)
            with pytest.raises(io.UnsupportedOperation):
                await f.readline()
            with pytest.raises(io.UnsupportedOperation):
                await f.readlines()
            if "b" in mode:
                with pytest.raises(io.UnsupportedOperation):
                    await f.read1(1)
            with pytest.raises(io.UnsupportedOperation):
                async for _ in f:
                    pass
            assert await f.write(data) == 7

    run(loop, main())
    assert path.read_bytes() == b"written"


# -- closed files --------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["r+b", "r+"])
def test_operations_on_a_closed_file_raise_value_error(loop, tmp_path, mode):
    path = tmp_path / "f"
    path.write_bytes(b"data\n")
    text = "b" not in mode
    data = "x" if text else b"x"
    kw = {"encoding": "utf-8"} if text else {}

    async def main():
        f = await afs.open(path, mode, **kw)
        await f.close()
        assert f.closed
        calls = [
            lambda: f.read(),
            lambda: f.read(1),
            lambda: f.readline(),
            lambda: f.readlines(),
            lambda: f.write(data),
            lambda: f.writelines([data]),
            lambda: f.seek(0),
            lambda: f.tell(),
            lambda: f.truncate(0),
            lambda: f.flush(),
            lambda: f.fsync(),
            lambda: f.fdatasync(),
            lambda: f.pread(1, 0),
            lambda: f.pwrite(b"x", 0),
        ]
        if not text:
            calls.append(lambda: f.read1(1))
        for call in calls:
            with pytest.raises(ValueError, match="closed file"):
                await call()
        with pytest.raises(ValueError):
            async for _ in f:
                pass
        with pytest.raises(ValueError):
            f.fileno()
        # closing again is fine
        await f.close()
        await f.close()
        assert f.closed

    run(loop, main())
    assert path.read_bytes() == b"data\n"


def test_closing_twice_and_inside_async_with(loop, tmp_path):
    path = tmp_path / "f"

    async def main():
        async with afs.open(path, "wb") as f:
            await f.write(b"abc")
            await f.close()
            await f.close()
        assert f.closed

    run(loop, main())
    assert path.read_bytes() == b"abc"


def test_close_flushes_buffered_writes(loop, tmp_path):
    path = tmp_path / "f"

    async def main():
        f = await afs.open(path, "w", encoding="utf-8")
        await f.write("buffered text")
        await f.close()
        g = await afs.open(tmp_path / "g", "wb")
        await g.write(b"buffered bytes")
        await g.close()

    run(loop, main())
    assert path.read_bytes() == b"buffered text"
    assert (tmp_path / "g").read_bytes() == b"buffered bytes"


def test_file_stays_usable_after_a_failed_operation(loop, tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"0123456789")

    async def main():
        async with afs.open(path, "r+b") as f:
            assert await f.read(3) == b"012"
            with pytest.raises(OSError):
                await f.seek(-5)
            with pytest.raises(TypeError):
                await f.write("str")
            assert await f.tell() == 3
            assert await f.read(3) == b"345"
            await f.write(b"X")
            await f.seek(0)
            return await f.read()

    assert run(loop, main()) == b"012345X789"


# -- descriptor leaks ----------------------------------------------------------------------


def test_no_fd_leak_after_many_opens_and_closes(loop, tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"line\n" * 100)

    async def cycle():
        async with afs.open(path, "rb") as f:
            await f.read(10)
        f = await afs.open(path, "r", encoding="utf-8")
        await f.readline()
        await f.close()
        async with afs.open(tmp_path / "w", "wb", buffering=0) as f:
            await f.write(b"x")

    async def main():
        await cycle()  # first-use allocations (engine, rings, threads) out of the way
        before = open_fds()
        for _ in range(200):
            await cycle()
        await asyncio.gather(*(cycle() for _ in range(100)))
        return new_fds(before)

    assert run(loop, main()) == {}


def test_no_fd_leak_after_failed_opens(loop, tmp_path):
    existing = tmp_path / "exists"
    existing.write_bytes(b"")

    async def attempt(args, exc):
        with pytest.raises(exc):
            await afs.open(*args)

    cases = [
        ((tmp_path / "missing", "r"), FileNotFoundError),
        ((tmp_path, "r"), IsADirectoryError),
        ((tmp_path, "wb"), IsADirectoryError),
        ((existing, "x"), FileExistsError),
        ((existing, "rw"), ValueError),
        ((existing, "rb", 0, "utf-8"), ValueError),
        ((existing, "r", -1, "no-such-codec"), LookupError),
    ]

    async def main():
        for args, exc in cases:
            await attempt(args, exc)
        before = open_fds()
        for _ in range(30):
            for args, exc in cases:
                await attempt(args, exc)
        await asyncio.gather(*(attempt(args, exc) for args, exc in cases * 10))
        return new_fds(before)

    assert run(loop, main()) == {}


def test_no_fd_leak_when_the_body_of_async_with_raises(loop, tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"data")

    async def one():
        with pytest.raises(RuntimeError):
            async with afs.open(path, "r+b") as f:
                await f.read(1)
                raise RuntimeError

    async def main():
        await one()
        before = open_fds()
        for _ in range(100):
            await one()
        return new_fds(before)

    assert run(loop, main()) == {}


def test_no_fd_leak_when_opens_are_cancelled(loop, tmp_path):
    """An open cancelled while the engine works on it must not leave its descriptor open
    once the engine has finished."""
    path = tmp_path / "f"
    path.write_bytes(b"data")

    async def main():
        async with afs.open(path, "rb"):
            pass
        before = open_fds()
        for spins in range(6):
            tasks = [asyncio.ensure_future(aopen(path, "rb")) for _ in range(50)]
            for _ in range(spins):
                await asyncio.sleep(0)
            for t in tasks:
                t.cancel()
            results = await asyncio.gather(*tasks, return_exceptions=True)
            for r in results:
                if not isinstance(r, BaseException):
                    await r.close()  # that open won the race: closing it is our job
        # descriptors of opens cancelled in flight may be closed a little later
        for _ in range(200):
            if not new_fds(before):
                break
            await asyncio.sleep(0.01)
        leaked = new_fds(before)
        if leaked:
            leaked["why"] = _engine_state(asyncio.get_running_loop())
        return leaked

    assert run(loop, main()) == {}


def _engine_state(loop) -> str:
    """For a failure message: whether the engine's completions reach the loop."""
    import select

    engine = _engine.engine_for(loop)
    fd = engine.fileno()
    facts = [
        f"backend={engine.backend}",
        f"stale={engine.stale}",
        f"eventfd {fd} -> {os.readlink(f'/proc/self/fd/{fd}')}",
        f"readable={bool(select.select([fd], [], [], 0)[0])}",
    ]
    if hasattr(loop, "_has_reader"):
        facts.append(f"loop polls it={loop._has_reader(fd)}")
    facts.append(f"completions reaped by hand={engine.reap()}")
    return ", ".join(facts)
