"""aioxide.fs binary files, positions: sequences of mixed operations in every mode,
seek/tell/truncate, positional I/O and empty files, each compared with built-in open."""

from __future__ import annotations

import io
import os

import pytest
from _fs_helpers import LINES, afs, compare_ops, run

pytestmark = pytest.mark.timeout(60)

BUFFERINGS = [-1, 0, 7, 4096]


# -- same operations as built-in open, in every mode ------------------------------------


SEQ_READ_WRITE = [
    ("read", 3),
    ("tell",),
    ("write", b"XYZ"),
    ("tell",),
    ("seek", 0),
    ("read", 10),
    ("seek", -4, 2),
    ("read", 2),
    ("tell",),
    ("seek", 2, 1),
    ("tell",),
    ("write", b"END"),
    ("seek", 0, 1),
    ("tell",),
    ("read", 7),
    ("seek", 70000),
    ("tell",),
    ("read", 5),
    ("seek", 30000),
    ("readline",),
    ("readline", 4),
    ("tell",),
    ("write", b"W" * 9000),
    ("tell",),
    ("read", 20),
    ("readlines", 30),
    ("seek", 12345),
    ("readlines", 1),
    ("seek", 100),
    ("truncate",),
    ("tell",),
    ("read",),
    ("seek", 0, 2),
    ("tell",),
    ("truncate", 200),
    ("tell",),
    ("read",),
    ("seek", 250),
    ("write", b"hole"),
    ("tell",),
    ("seek", 0),
    ("read",),
    ("seek", -1),
    ("tell",),
    ("truncate", -1),
    ("flush",),
    ("seek", 5),
    ("writelines", [b"a", b"bc", b"\n"]),
    ("tell",),
    ("seek", 0),
    ("read",),
]

SEQ_APPEND_PLUS = [
    ("tell",),
    ("seek", 0),
    ("read", 10),
    ("tell",),
    ("write", b"APPENDED"),
    ("flush",),
    ("tell",),
    ("seek", 0),
    ("read", 4),
    ("seek", 5),
    ("write", b"more"),
    ("flush",),
    ("tell",),
    ("seek", 0, 2),
    ("tell",),
    ("truncate", 50),
    ("write", b"Z"),
    ("flush",),
    ("tell",),
    ("seek", 0),
    ("read",),
    ("seek", 40),
    ("readline",),
    ("read", 3),
]

SEQ_APPEND = [
    ("tell",),
    ("write", b"abc"),
    ("flush",),
    ("tell",),
    ("read", 1),
    ("seek", 0),
    ("write", b"zz"),
    ("flush",),
    ("tell",),
    ("readline",),
    ("readlines",),
    ("read1", 1),
    ("writelines", [b"x", b"y"]),
    ("flush",),
    ("tell",),
]

SEQ_READ_ONLY = [
    ("read", 5),
    ("write", b"x"),
    ("truncate",),
    ("writelines", [b"a"]),
    ("seek", 3, 1),
    ("tell",),
    ("readlines", 3),
    ("tell",),
    ("seek", -10, 2),
    ("read",),
    ("seek", 0),
    ("readline", 3),
    ("seek", 1 << 20),
    ("read", 3),
    ("tell",),
    ("truncate", 0),
]

SEQ_WRITE_ONLY = [
    ("tell",),
    ("write", b"hello"),
    ("read", 1),
    ("readline",),
    ("seek", 2),
    ("write", b"XX"),
    ("tell",),
    ("seek", 0, 2),
    ("tell",),
    ("truncate", 3),
    ("seek", 10),
    ("write", b"!"),
    ("tell",),
    ("seek", -3, 1),
    ("write", b"??"),
    ("tell",),
    ("truncate",),
    ("seek", 0, 2),
    ("tell",),
]

SCENARIOS = {
    "r+b": ("r+b", LINES, SEQ_READ_WRITE),
    "w+b": ("w+b", LINES, [("write", LINES), ("tell",), ("seek", 0)] + SEQ_READ_WRITE),
    "w+b-new": ("w+b", None, [("write", LINES), ("seek", 0)] + SEQ_READ_WRITE),
    "a+b": ("a+b", LINES, SEQ_APPEND_PLUS),
    "a+b-new": ("a+b", None, [("write", LINES), ("flush",)] + SEQ_APPEND_PLUS),
    "ab": ("ab", LINES, SEQ_APPEND),
    "rb": ("rb", LINES, SEQ_READ_ONLY),
    "wb": ("wb", LINES, SEQ_WRITE_ONLY),
    "xb-new": ("xb", None, SEQ_WRITE_ONLY),
    "x+b-new": ("x+b", None, [("write", LINES), ("seek", 0)] + SEQ_READ_WRITE),
    "xb-exists": ("xb", LINES, []),
    "rb-missing": ("rb", None, []),
    "r+b-missing": ("r+b", None, []),
}


@pytest.mark.parametrize("buffering", [-1, 0, 3, 4096])
@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_operation_sequences_match_builtin(loop, tmp_path, scenario, buffering):
    mode, initial, ops = SCENARIOS[scenario]
    if buffering == 0:
        # FileIO (what built-in open gives with buffering=0) has no read1
        ops = [op for op in ops if op[0] != "read1"]
    compare_ops(loop, tmp_path / "f.bin", mode, ops, initial=initial, buffering=buffering)


@pytest.mark.parametrize("buffering", [-1, 0])
def test_seek_whence_and_tell(loop, tmp_path, buffering):
    path = tmp_path / "f.bin"
    path.write_bytes(LINES)
    n = len(LINES)

    async def main():
        async with afs.open(path, "rb", buffering=buffering) as f:
            assert await f.seek(100) == 100
            assert await f.tell() == 100
            assert await f.seek(50, os.SEEK_CUR) == 150
            assert await f.read(10) == LINES[150:160]
            assert await f.seek(-20, io.SEEK_CUR) == 140
            assert await f.read(5) == LINES[140:145]
            assert await f.seek(0, 2) == n
            assert await f.read() == b""
            assert await f.seek(-11, 2) == n - 11
            assert await f.readline() == LINES[-11:]
            assert await f.seek(n + 100) == n + 100
            assert await f.read(1) == b""
            assert await f.seek(0) == 0
            assert await f.read(6) == b"00000 "
            with pytest.raises(OSError):
                await f.seek(-1)
            assert await f.tell() == 6

    run(loop, main())


def test_seek_past_end_then_write_leaves_a_hole_of_zeros(loop, tmp_path):
    path = tmp_path / "f.bin"

    async def main():
        async with afs.open(path, "wb") as f:
            await f.write(b"ab")
            await f.seek(100_000)
            await f.write(b"cd")
            return await f.tell()

    assert run(loop, main()) == 100_002
    assert path.read_bytes() == b"ab" + bytes(100_000 - 2) + b"cd"


@pytest.mark.parametrize("buffering", [-1, 0])
def test_truncate(loop, tmp_path, buffering):
    path = tmp_path / "f.bin"
    path.write_bytes(LINES)

    async def main():
        async with afs.open(path, "r+b", buffering=buffering) as f:
            await f.read(30)
            assert await f.truncate() == 30
            assert await f.tell() == 30
            assert os.path.getsize(path) == 30
            assert await f.truncate(10) == 10
            assert await f.tell() == 30
            assert await f.truncate(1000) == 1000
            await f.seek(0)
            return await f.read()

    assert run(loop, main()) == LINES[:10] + bytes(990)


# -- positional I/O -----------------------------------------------------------------------


@pytest.mark.parametrize("buffering", [-1, 0])
def test_pread_does_not_move_the_position(loop, tmp_path, buffering):
    path = tmp_path / "f.bin"
    path.write_bytes(LINES)

    async def main():
        async with afs.open(path, "rb", buffering=buffering) as f:
            assert await f.read(10) == LINES[:10]
            assert await f.pread(5, 100) == LINES[100:105]
            assert await f.tell() == 10
            assert await f.pread(20000, 40000) == LINES[40000:60000]
            assert await f.read(3) == LINES[10:13]
            assert await f.pread(10, len(LINES) - 4) == LINES[-4:]
            assert await f.pread(10, len(LINES) + 10) == b""
            assert await f.pread(0, 0) == b""
            assert await f.tell() == 13
            assert await f.readline() == LINES[13:22]

    run(loop, main())


@pytest.mark.parametrize("buffering", [-1, 0])
def test_pwrite_does_not_move_the_position(loop, tmp_path, buffering):
    path = tmp_path / "f.bin"
    path.write_bytes(LINES)

    async def main():
        async with afs.open(path, "r+b", buffering=buffering) as f:
            assert await f.read(10) == LINES[:10]
            assert await f.pwrite(b"PWRITE", 50_000) == 6
            assert await f.tell() == 10
            assert await f.pread(6, 50_000) == b"PWRITE"
            assert await f.pwrite(b"", 7) == 0
            # beyond the end: the file grows, the position stays
            assert await f.pwrite(b"tail", len(LINES) + 6) == 4
            assert await f.tell() == 10
            # ordinary writes still go to the position
            await f.write(b"w")
            assert await f.tell() == 11

    run(loop, main())
    want = bytearray(LINES)
    want[50_000:50_006] = b"PWRITE"
    want[10:11] = b"w"
    want += bytes(6) + b"tail"
    assert path.read_bytes() == bytes(want)


def test_pread_and_pwrite_in_text_mode_use_bytes(loop, tmp_path):
    path = tmp_path / "f.txt"
    path.write_bytes("héllo\nwörld\n".encode())

    async def main():
        async with afs.open(path, "r+", encoding="utf-8") as f:
            assert await f.readline() == "héllo\n"
            cookie = await f.tell()
            assert await f.pread(6, 0) == "héllo".encode()
            assert await f.pwrite(b"W", 7) == 1
            assert await f.tell() == cookie
            assert await f.pread(100, 7) == "Wörld\n".encode()

    run(loop, main())
    assert path.read_bytes() == "héllo\nWörld\n".encode()


# -- empty files --------------------------------------------------------------------------


@pytest.mark.parametrize("buffering", [-1, 0])
def test_empty_file(loop, tmp_path, buffering):
    path = tmp_path / "empty.bin"
    path.write_bytes(b"")

    async def main():
        async with afs.open(path, "rb", buffering=buffering) as f:
            assert await f.read() == b""
            assert await f.read(10) == b""
            assert await f.readline() == b""
            assert await f.readlines() == []
            assert [x async for x in f] == []
            assert await f.tell() == 0
            assert await f.seek(0, 2) == 0
            assert await f.pread(10, 0) == b""
        async with afs.open(path, "w+b", buffering=buffering) as f:
            assert await f.read() == b""
            assert await f.write(b"") == 0
            assert await f.tell() == 0
        async with afs.open(path, "r", encoding="utf-8") as f:
            assert await f.read() == ""
            assert await f.readline() == ""
            assert [x async for x in f] == []

    run(loop, main())
    assert path.read_bytes() == b""
