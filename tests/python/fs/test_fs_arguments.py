"""aioxide.fs: wrong argument types and out-of-range numbers raise what the built-in
``io`` classes raise (type and message), and never leave the file hanging."""

from __future__ import annotations

import os

import pytest
from _fs_helpers import afs, run

pytestmark = pytest.mark.timeout(60)

CONTENT = b"hello\nworld\n"


def builtin_error(path, mode, method, *args):
    with open(path, mode) as f:
        try:
            getattr(f, method)(*args)
        except Exception as exc:  # noqa: BLE001 - the exception is the result
            return exc
    raise AssertionError(f"built-in {method}{args} did not raise")


def check_same_error(loop, path, mode, method, *args):
    path.write_bytes(CONTENT)
    want = builtin_error(path, mode, method, *args)
    path.write_bytes(CONTENT)

    async def main():
        async with afs.open(path, mode) as f:
            with pytest.raises(type(want)) as got:
                await getattr(f, method)(*args)
            # The file is still usable, and closing it does not wait for anything.
            await f.seek(0)
            assert await f.read() == (CONTENT if "b" in mode else CONTENT.decode())
        return got.value

    got = run(loop, main())
    assert type(got) is type(want)
    assert str(got) == str(want)


NOT_INTS = ["x", 1.5, object(), [], b"ab"]


def _arg_id(value) -> str:
    # Stable across pytest-xdist workers (an object's repr holds its address).
    return type(value).__name__


@pytest.mark.parametrize("mode", ["rb", "r+b", "r", "r+"])
@pytest.mark.parametrize("bad", NOT_INTS, ids=_arg_id)
def test_read_size_of_a_wrong_type(loop, tmp_path, mode, bad):
    check_same_error(loop, tmp_path / "f", mode, "read", bad)


@pytest.mark.parametrize("mode", ["rb", "r+b"])
@pytest.mark.parametrize("bad", NOT_INTS + [None], ids=_arg_id)
def test_binary_seek_and_truncate_arguments_of_a_wrong_type(loop, tmp_path, mode, bad):
    check_same_error(loop, tmp_path / "f", mode, "seek", bad)
    check_same_error(loop, tmp_path / "f", mode, "seek", 0, bad)
    if bad is not None:  # truncate(None) truncates at the position
        check_same_error(loop, tmp_path / "f", mode, "truncate", bad)


@pytest.mark.parametrize("mode", ["rb", "r+b"])
@pytest.mark.parametrize("bad", NOT_INTS, ids=_arg_id)
def test_binary_readline_limit_of_a_wrong_type(loop, tmp_path, mode, bad):
    check_same_error(loop, tmp_path / "f", mode, "readline", bad)


@pytest.mark.parametrize("mode", ["r", "r+"])
@pytest.mark.parametrize("bad", NOT_INTS + [None], ids=_arg_id)
def test_text_readline_limit_of_a_wrong_type(loop, tmp_path, mode, bad):
    # A text file's readline takes an integer only: None is a TypeError there, unlike
    # read(None), readlines(None) and a binary file's readline(None).
    check_same_error(loop, tmp_path / "f", mode, "readline", bad)


@pytest.mark.parametrize("mode", ["rb", "r+b"])
def test_binary_read_below_minus_one(loop, tmp_path, mode):
    check_same_error(loop, tmp_path / "f", mode, "read", -2)


@pytest.mark.parametrize("mode", ["rb", "r"])
def test_read_size_beyond_an_index(loop, tmp_path, mode):
    check_same_error(loop, tmp_path / "f", mode, "read", 10**30)


@pytest.mark.parametrize("mode", ["rb", "r+b"])
def test_a_read_too_big_to_allocate_fails_at_once(loop, tmp_path, mode):
    # 2**62 bytes fit in an index but in no address space: MemoryError, as built-in
    # read; the refused request must not stay "in flight" (close() used to wait forever).
    check_same_error(loop, tmp_path / "f", mode, "read", 2**62)


@pytest.mark.parametrize("mode", ["rb", "r+b"])
def test_seek_numbers_out_of_range(loop, tmp_path, mode):
    check_same_error(loop, tmp_path / "f", mode, "seek", 10**30)
    check_same_error(loop, tmp_path / "f", mode, "seek", 0, 10**30)
    check_same_error(loop, tmp_path / "f", mode, "seek", 0, 5)
    check_same_error(loop, tmp_path / "f", mode, "seek", 0, -1)


@pytest.mark.skipif(not hasattr(os, "SEEK_DATA"), reason="no SEEK_DATA here")
@pytest.mark.parametrize("mode", ["rb", "r+b"])
def test_seek_data_and_seek_hole_as_built_in_binary_files(loop, tmp_path, mode):
    path = tmp_path / "f"
    path.write_bytes(CONTENT)
    with open(path, mode) as f:
        want = [f.seek(0, os.SEEK_DATA), f.seek(0, os.SEEK_HOLE), f.tell()]

    async def main():
        async with afs.open(path, mode) as f:
            got = [await f.seek(0, os.SEEK_DATA), await f.seek(0, os.SEEK_HOLE)]
            got.append(await f.tell())
            assert await f.read() == b""  # at the hole, which is the end here
            return got

    assert run(loop, main()) == want == [0, len(CONTENT), len(CONTENT)]
    # Past the end there is no data: ENXIO, as built-in seek raises it.
    check_same_error(loop, path, mode, "seek", 100, os.SEEK_DATA)


@pytest.mark.parametrize("mode", ["rb", "r"])
def test_writing_a_read_only_file_names_what_io_names(loop, tmp_path, mode):
    data = b"x" if "b" in mode else "x"
    check_same_error(loop, tmp_path / "f", mode, "write", data)
    check_same_error(loop, tmp_path / "f", mode, "truncate", 0)

    async def main():
        async with afs.open(tmp_path / "f", mode) as f:
            assert await f.writelines([]) is None  # nothing to write is no error

    run(loop, main())
    with open(tmp_path / "f", mode) as f:
        assert f.writelines([]) is None


def test_buffering_beyond_a_c_int(loop, tmp_path):
    path = tmp_path / "f"
    path.write_bytes(CONTENT)
    with pytest.raises(OverflowError, match="too large to convert to C int"):
        open(path, "rb", buffering=10**30)

    async def main():
        with pytest.raises(OverflowError, match="too large to convert to C int"):
            await afs.open(path, "rb", buffering=10**30)

    run(loop, main())


def test_a_nul_in_a_path_is_the_value_error_of_os(loop, tmp_path):
    bad = str(tmp_path / "a\0b")
    with pytest.raises(ValueError, match="embedded null byte"):
        open(bad)

    async def main():
        for call in (
            lambda: afs.open(bad, "rb"),
            lambda: afs.read_bytes(bad),
            lambda: afs.write_bytes(bad, b"x"),
            lambda: afs.stat(bad),
            lambda: afs.remove(bad),
        ):
            with pytest.raises(ValueError, match="embedded null byte"):
                await call()
        with pytest.raises(ValueError, match="embedded null byte"):
            async with afs.AIOFile(bad, "r"):
                pass

    run(loop, main())
