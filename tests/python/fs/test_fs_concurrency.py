"""aioxide.fs under concurrency (asyncio.gather) and cancellation."""

from __future__ import annotations

import asyncio
import os
import random

import pytest
from _fs_helpers import afs, cancel_after, new_fds, open_fds, random_bytes
from _fs_helpers import run as _run

pytestmark = pytest.mark.timeout(60)

MiB = 1024 * 1024



def run(loop, coro, timeout=40):
    return _run(loop, coro, timeout)


# -- concurrency --------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["rb", "r+b", "r"])
def test_concurrent_preads_of_one_file(loop, tmp_path, mode):
    path = tmp_path / "f.bin"
    data = random_bytes(4 * MiB + 123, seed=9)
    path.write_bytes(data)
    rng = random.Random(1)
    requests = [(rng.randint(0, 70_000), rng.randint(0, len(data) + 10)) for _ in range(300)]
    requests += [(16384, off) for off in range(0, len(data), 16384)]
    rng.shuffle(requests)
    kw = {"encoding": "latin-1"} if mode == "r" else {}

    async def main():
        async with afs.open(path, mode, **kw) as f:
            await f.read(5)
            results = await asyncio.gather(*(f.pread(n, off) for n, off in requests))
            pos = await f.tell()
        return results, pos

    results, pos = run(loop, main())
    assert pos == 5
    for (n, off), got in zip(requests, results, strict=True):
        assert got == data[off : off + n], (n, off)


@pytest.mark.parametrize("buffering", [-1, 0])
def test_concurrent_pwrites_of_distinct_offsets(loop, tmp_path, buffering):
    path = tmp_path / "f.bin"
    block = 8192 + 17
    count = 500
    blocks = [random_bytes(block, seed=i) for i in range(count)]
    order = list(range(count))
    random.Random(2).shuffle(order)

    async def main():
        async with afs.open(path, "w+b", buffering=buffering) as f:
            counts = await asyncio.gather(*(f.pwrite(blocks[i], i * block) for i in order))
            assert await f.tell() == 0
            back = await asyncio.gather(*(f.pread(block, i * block) for i in range(count)))
        return counts, back

    counts, back = run(loop, main())
    assert counts == [block] * count
    assert back == blocks
    assert path.read_bytes() == b"".join(blocks)


def test_many_small_files_read_concurrently(loop, tmp_path):
    n = 1000
    for i in range(n):
        (tmp_path / f"{i}.txt").write_bytes(b"file %d\n" % i * (i % 7 + 1))

    async def read_open(i):
        async with afs.open(tmp_path / f"{i}.txt", "rb") as f:
            return await f.read()

    async def read_text(i):
        async with afs.open(tmp_path / f"{i}.txt", encoding="ascii") as f:
            return [line async for line in f]

    async def main():
        await read_open(0)  # first-use allocations out of the way
        before = open_fds()
        a = await asyncio.gather(*(afs.read_bytes(tmp_path / f"{i}.txt") for i in range(n)))
        b = await asyncio.gather(*(read_open(i) for i in range(n)))
        c = await asyncio.gather(*(read_text(i) for i in range(n)))
        assert new_fds(before) == {}
        return a, b, c

    a, b, c = run(loop, main(), timeout=15)
    want = [b"file %d\n" % i * (i % 7 + 1) for i in range(n)]
    assert a == want
    assert b == want
    assert c == [[f"file {i}\n"] * (i % 7 + 1) for i in range(n)]


def test_many_files_written_concurrently(loop, tmp_path):
    n = 300

    async def write(i):
        async with afs.open(tmp_path / f"{i}.bin", "wb") as f:
            for k in range(5):
                await f.write(b"%d-%d;" % (i, k))
            return await f.tell()

    async def main():
        return await asyncio.gather(*(write(i) for i in range(n)))

    sizes = run(loop, main())
    for i in range(n):
        want = b"".join(b"%d-%d;" % (i, k) for k in range(5))
        assert (tmp_path / f"{i}.bin").read_bytes() == want
        assert sizes[i] == len(want)


def test_two_open_files_on_the_same_path(loop, tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"0123456789" * 1000)

    async def main():
        async with afs.open(path, "rb") as a, afs.open(path, "rb") as b:
            ra, rb = await asyncio.gather(a.read(5000), b.read(3000))
            assert await a.tell() == 5000 and await b.tell() == 3000
            return ra, rb

    ra, rb = run(loop, main())
    assert ra == (b"0123456789" * 1000)[:5000]
    assert rb == (b"0123456789" * 1000)[:3000]


def test_usable_from_two_loops_one_after_the_other(loop_factory, tmp_path):
    path = tmp_path / "f.bin"

    async def main(tag):
        async with afs.open(path, "ab") as f:
            await f.write(tag)
        return await afs.read_bytes(path)

    for tag in (b"a", b"b", b"c"):
        ev = loop_factory()
        try:
            got = ev.run_until_complete(asyncio.wait_for(main(tag), 20))
        finally:
            ev.close()
    assert got == b"abc"


# -- cancellation -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def big_data():
    return random_bytes(64 * MiB, seed=77)


@pytest.mark.parametrize("buffering", [-1, 0])
@pytest.mark.parametrize("spins", [0, 1, 3, 20])
def test_cancelled_big_read_leaves_a_consistent_file(loop, tmp_path, big_data, spins, buffering):
    """Whatever a cancelled read did, tell() and the next reads agree with each other and
    with the file, and the file is unchanged."""
    path = tmp_path / "big.bin"
    path.write_bytes(big_data)

    async def main():
        async with afs.open(path, "rb", buffering=buffering) as f:
            assert await f.read(10) == big_data[:10]
            result = await cancel_after(f.read(), spins)
            if result is not None:
                assert result == big_data[10:]
            pos = await f.tell()
            assert 10 <= pos <= len(big_data)
            if result is not None:
                assert pos == len(big_data)
            chunk = await f.read(MiB)
            assert chunk == big_data[pos : pos + MiB]
            assert await f.tell() == pos + len(chunk)
            # seeking works and the data is intact
            assert await f.seek(12345) == 12345
            assert await f.read(100) == big_data[12345:12445]
            assert await f.pread(1000, 40 * MiB) == big_data[40 * MiB : 40 * MiB + 1000]

    run(loop, main())
    assert os.path.getsize(path) == len(big_data)


@pytest.mark.parametrize("spins", [0, 1, 3])
def test_cancelled_text_read_leaves_a_consistent_file(loop, tmp_path, spins):
    path = tmp_path / "big.txt"
    text = "".join(f"line {i} é\n" for i in range(1_000_000))
    path.write_bytes(text.encode())

    async def main():
        async with afs.open(path, "r", encoding="utf-8") as f:
            assert await f.readline() == "line 0 é\n"
            result = await cancel_after(f.read(), spins)
            if result is not None:
                assert result == text[len("line 0 é\n") :]
            cookie = await f.tell()
            rest = await f.read()
            # the rest of the file from the cookie, and the cookie is where it says
            assert text.endswith(rest)
            assert await f.seek(cookie) == cookie
            assert await f.read() == rest
            await f.seek(0)
            assert await f.read() == text

    run(loop, main())


@pytest.mark.parametrize("buffering", [0, -1])
@pytest.mark.parametrize("spins", [1, 3])
def test_cancelled_big_write_completes(loop, tmp_path, big_data, spins, buffering):
    """A write handed to the engine completes although the task awaiting it is cancelled:
    the position is the one after the write and the file holds the whole data."""
    path = tmp_path / "big.bin"

    async def main():
        async with afs.open(path, "wb", buffering=buffering) as f:
            n = await cancel_after(f.write(big_data), spins)
            if n is not None:
                assert n == len(big_data)
            assert await f.tell() == len(big_data)
            await f.write(b"after")
            assert await f.tell() == len(big_data) + 5

    run(loop, main())
    assert os.path.getsize(path) == len(big_data) + 5
    with open(path, "rb") as f:
        assert f.read() == big_data + b"after"


def test_cancelled_write_then_close_keeps_the_data(loop, tmp_path, big_data):
    path = tmp_path / "big.bin"

    async def main():
        f = await afs.open(path, "wb", buffering=0)
        await cancel_after(f.write(big_data), 1)
        await f.close()

    run(loop, main())
    with open(path, "rb") as f:
        assert f.read() == big_data


def test_cancelled_text_write_completes(loop, tmp_path):
    path = tmp_path / "big.txt"
    text = "é€😀 line\n" * 2_000_000

    async def main():
        async with afs.open(path, "w", encoding="utf-8") as f:
            await cancel_after(f.write(text), 1)
            await f.write("end")

    run(loop, main())
    assert path.read_bytes() == (text + "end").encode()


def test_cancelling_many_reads_and_writes_loses_nothing(loop, tmp_path):
    """Cancel writes of distinct files at various points: each file ends up complete."""
    data = [random_bytes(2 * MiB + i, seed=i) for i in range(8)]

    async def one(i):
        async with afs.open(tmp_path / f"{i}", "wb", buffering=0) as f:
            await cancel_after(f.write(data[i]), 1 + i % 4)
            assert await f.tell() == len(data[i])

    async def main():
        await asyncio.gather(*(one(i) for i in range(8)))

    run(loop, main())
    for i in range(8):
        assert (tmp_path / f"{i}").read_bytes() == data[i]
