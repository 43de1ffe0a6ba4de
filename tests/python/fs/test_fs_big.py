"""One 1 GiB file through aioxide.fs (aioxide loop only): read back data written with
os.write, and write data that is then checked with plain reads. Both files are deleted."""

from __future__ import annotations

import asyncio
import hashlib
import os

import pytest
from _fs_helpers import afs, random_bytes

MiB = 1024 * 1024
GiB = 1024 * MiB
PERIOD = 1_000_003  # the pattern's period: not a divisor of any chunk size used


def pattern_source():
    base = random_bytes(PERIOD, seed=1234)
    return base * 5  # any slice of up to 4 * PERIOD bytes starting below PERIOD fits


def chunk_at(src: bytes, offset: int, size: int) -> bytes:
    """``size`` bytes of the infinite repetition of the pattern, from ``offset``."""
    assert size <= 4 * PERIOD
    start = offset % PERIOD
    return src[start : start + size]


@pytest.mark.timeout(900)
def test_one_gib_file(aioxide_loop, tmp_path):
    src = pattern_source()
    path = tmp_path / "read.bin"
    out = tmp_path / "written.bin"
    try:
        # -- write 1 GiB with os.write, hash it as it goes
        want_hash = hashlib.sha256()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            for off in range(0, GiB, MiB):
                chunk = chunk_at(src, off, MiB)
                want_hash.update(chunk)
                view = memoryview(chunk)
                while view:
                    view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
        assert os.path.getsize(path) == GiB

        # -- the sync read agrees with what was written
        sync_hash = hashlib.sha256()
        with open(path, "rb") as f:
            while block := f.read(8 * MiB):
                sync_hash.update(block)
        assert sync_hash.hexdigest() == want_hash.hexdigest()

        async def read_back():
            got_hash = hashlib.sha256()
            total = 0
            async with afs.open(path, "rb") as f:
                while True:
                    chunk = await f.read(MiB)
                    if not chunk:
                        break
                    assert chunk == chunk_at(src, total, len(chunk)), f"at {total}"
                    got_hash.update(chunk)
                    total += len(chunk)
                assert await f.tell() == GiB
                # odd-sized reads from odd offsets, and positional reads
                for off in (GiB - 7, GiB // 3 + 1, 12345, 0):
                    await f.seek(off)
                    data = await f.read(3 * MiB + 1)
                    assert data == (
                        chunk_at(src, off, 3 * MiB + 1)
                        if off < GiB - 3 * MiB
                        else chunk_at(src, off, GiB - off)
                    )
                for off in range(0, GiB, 97 * MiB + 13):
                    assert await f.pread(MiB, off) == chunk_at(src, off, MiB)
            return total, got_hash.hexdigest()

        total, got = aioxide_loop.run_until_complete(asyncio.wait_for(read_back(), 600))
        assert total == GiB
        assert got == sync_hash.hexdigest()
        os.remove(path)

        # -- write 1 GiB through aioxide.fs in 1 MiB chunks
        async def write_out():
            h = hashlib.sha256()
            async with afs.open(out, "wb") as f:
                for off in range(0, GiB, MiB):
                    chunk = chunk_at(src, off + 17, MiB)
                    h.update(chunk)
                    assert await f.write(chunk) == MiB
                assert await f.tell() == GiB
            return h.hexdigest()

        written_hash = aioxide_loop.run_until_complete(asyncio.wait_for(write_out(), 600))
        assert os.path.getsize(out) == GiB
        check = hashlib.sha256()
        with open(out, "rb") as f:
            off = 0
            while block := f.read(MiB):
                assert block == chunk_at(src, off + 17, len(block)), f"at {off}"
                check.update(block)
                off += len(block)
        assert check.hexdigest() == written_hash
    finally:
        for p in (path, out):
            if p.exists():
                p.unlink()
