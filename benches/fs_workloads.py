"""One fs_bench measurement in a fresh interpreter (run by benches/fs_bench.py):

    python benches/fs_workloads.py WORKLOAD CONTENDER LOOP --data DIR

WORKLOAD is lines, seq_read, seq_write or small_files; CONTENDER is aioxide.fs, aiofile,
aiofiles, to_thread or sync; LOOP is aioxide, uvloop or asyncio (ignored for sync). DIR
holds the files benches/fs_data.py generated. Before the clock starts each contender
reads one 4 KiB file with its own API (thread pools, rings and contexts start there); the
timed part opens, reads or writes, and closes. ``os.sync()`` runs first (untimed), so no
dirty pages of an earlier cell are being written back meanwhile. Every result is checked
against the manifest (line and character counts, block indexes, byte counts); a mismatch
exits 3.
Prints one JSON line: seconds, the amount processed, and the aioxide.fs backend or the
caio implementation that was used.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fs_data import HEADER, MIB, SMALL_SIZE, load_manifest  # noqa: E402
from loops import new_loop  # noqa: E402

WORKLOADS = ("lines", "seq_read", "seq_write", "small_files")
CONTENDERS = ("aioxide.fs", "aiofile", "aiofiles", "to_thread", "sync")
# One thread-pool round trip per line: these iterate lines-prefix.txt, not lines.txt.
PREFIX_CONTENDERS = ("aiofiles", "to_thread")


class CheckFailed(Exception):
    pass


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise CheckFailed(message)


def _check_block(offset: int, chunk: bytes) -> None:
    """seq.bin: each 1 MiB block starts with its index."""
    if offset % MIB == 0 and len(chunk) >= HEADER.size:
        (index,) = HEADER.unpack_from(chunk)
        _check(index == offset // MIB, f"block at offset {offset} has index {index}")


def _check_small(results: list[bytes]) -> int:
    for i, data in enumerate(results):
        _check(len(data) == SMALL_SIZE, f"small file {i}: {len(data)} bytes")
        _check(HEADER.unpack_from(data)[0] == i, f"small file {i}: wrong content")
    return len(results)


# ---------------------------------------------------------------- lines: (lines, chars)

async def lines_aioxide(path: str) -> tuple[int, int]:
    import aioxide.fs

    n = chars = 0
    async with aioxide.fs.open(path, encoding="utf-8") as f:
        async for line in f:
            n += 1
            chars += len(line)
    return n, chars


async def lines_aiofile(path: str) -> tuple[int, int]:
    from aiofile import AIOFile, LineReader

    n = chars = 0
    async with AIOFile(path, "r", encoding="utf-8") as afp:
        async for line in LineReader(afp):
            n += 1
            chars += len(line)
    return n, chars


async def lines_aiofiles(path: str) -> tuple[int, int]:
    import aiofiles

    n = chars = 0
    async with aiofiles.open(path, encoding="utf-8") as f:
        async for line in f:
            n += 1
            chars += len(line)
    return n, chars


async def lines_to_thread(path: str) -> tuple[int, int]:
    n = chars = 0
    with open(path, encoding="utf-8") as f:
        while line := await asyncio.to_thread(f.readline):
            n += 1
            chars += len(line)
    return n, chars


def lines_sync(path: str) -> tuple[int, int]:
    n = chars = 0
    with open(path, encoding="utf-8") as f:
        for line in f:
            n += 1
            chars += len(line)
    return n, chars


# ------------------------------------------------- seq_read: bytes read, 1 MiB per call

async def seq_read_aioxide(path: str) -> int:
    import aioxide.fs

    offset = 0
    async with aioxide.fs.open(path, "rb", buffering=0) as f:
        while chunk := await f.read(MIB):
            _check_block(offset, chunk)
            offset += len(chunk)
    return offset


async def seq_read_aiofile(path: str) -> int:
    from aiofile import AIOFile

    offset = 0
    async with AIOFile(path, "rb") as afp:
        while chunk := await afp.read_bytes(MIB, offset):
            _check_block(offset, chunk)
            offset += len(chunk)
    return offset


async def seq_read_aiofiles(path: str) -> int:
    import aiofiles

    offset = 0
    async with aiofiles.open(path, "rb", buffering=0) as f:
        while chunk := await f.read(MIB):
            _check_block(offset, chunk)
            offset += len(chunk)
    return offset


async def seq_read_to_thread(path: str) -> int:
    offset = 0
    with open(path, "rb", buffering=0) as f:
        while chunk := await asyncio.to_thread(f.read, MIB):
            _check_block(offset, chunk)
            offset += len(chunk)
    return offset


def seq_read_sync(path: str) -> int:
    offset = 0
    with open(path, "rb", buffering=0) as f:
        while chunk := f.read(MIB):
            _check_block(offset, chunk)
            offset += len(chunk)
    return offset


# ----------------------------------------------- seq_write: bytes written, 1 MiB per call

async def seq_write_aioxide(path: str, chunk: bytes, n: int) -> int:
    import aioxide.fs

    written = 0
    async with aioxide.fs.open(path, "wb", buffering=0) as f:
        for _ in range(n):
            written += await f.write(chunk)
    return written


async def seq_write_aiofile(path: str, chunk: bytes, n: int) -> int:
    from aiofile import AIOFile

    written = 0
    async with AIOFile(path, "wb") as afp:
        for i in range(n):
            written += await afp.write_bytes(chunk, i * len(chunk))
    return written


async def seq_write_aiofiles(path: str, chunk: bytes, n: int) -> int:
    import aiofiles

    written = 0
    async with aiofiles.open(path, "wb", buffering=0) as f:
        for _ in range(n):
            written += await f.write(chunk)
    return written


async def seq_write_to_thread(path: str, chunk: bytes, n: int) -> int:
    written = 0
    with open(path, "wb", buffering=0) as f:
        for _ in range(n):
            written += await asyncio.to_thread(f.write, chunk)
    return written


def seq_write_sync(path: str, chunk: bytes, n: int) -> int:
    written = 0
    with open(path, "wb", buffering=0) as f:
        for _ in range(n):
            written += f.write(chunk)
    return written


# ------------------------------------- small_files: whole-file reads, all under one gather

async def small_aioxide(paths: list) -> list[bytes]:
    import aioxide.fs

    return await asyncio.gather(*(aioxide.fs.read_bytes(p) for p in paths))


async def _aiofile_read(path: str) -> bytes:
    from aiofile import AIOFile

    async with AIOFile(path, "rb") as afp:
        return await afp.read()


async def small_aiofile(paths: list) -> list[bytes]:
    return await asyncio.gather(*(_aiofile_read(p) for p in paths))


async def _aiofiles_read(path: str) -> bytes:
    import aiofiles

    async with aiofiles.open(path, "rb") as f:
        return await f.read()


async def small_aiofiles(paths: list) -> list[bytes]:
    return await asyncio.gather(*(_aiofiles_read(p) for p in paths))


async def small_to_thread(paths: list) -> list[bytes]:
    return await asyncio.gather(*(asyncio.to_thread(p.read_bytes) for p in paths))


def small_sync(paths: list) -> list[bytes]:
    return [p.read_bytes() for p in paths]


FUNCS = {
    "lines": (lines_aioxide, lines_aiofile, lines_aiofiles, lines_to_thread, lines_sync),
    "seq_read": (seq_read_aioxide, seq_read_aiofile, seq_read_aiofiles, seq_read_to_thread,
                 seq_read_sync),
    "seq_write": (seq_write_aioxide, seq_write_aiofile, seq_write_aiofiles,
                  seq_write_to_thread, seq_write_sync),
    "small_files": (small_aioxide, small_aiofile, small_aiofiles, small_to_thread, small_sync),
}

WARM = {
    "aioxide.fs": small_aioxide,
    "aiofile": small_aiofile,
    "aiofiles": small_aiofiles,
    "to_thread": small_to_thread,
}


def _args(workload: str, contender: str, data: Path, manifest: dict) -> tuple:
    """The arguments of the timed call, built before the clock starts."""
    if workload == "lines":
        entry = manifest["lines"]["prefix" if contender in PREFIX_CONTENDERS else "full"]
        return (str(data / entry["path"]),)
    if workload == "seq_read":
        return (str(data / manifest["seq"]["path"]),)
    if workload == "seq_write":
        path = data / f"write-{os.getpid()}.bin"
        return (str(path), os.urandom(MIB), manifest["seq_write"]["bytes"] // MIB)
    count = manifest["small"]["count"]
    paths = [data / manifest["small"]["dir"] / f"{i:05d}.bin" for i in range(count)]
    return (paths if contender in ("to_thread", "sync") else [str(p) for p in paths]),


def _verify(workload: str, contender: str, result, manifest: dict, args: tuple) -> dict:
    """Check the result against the manifest; what was processed, for the report."""
    if workload == "lines":
        entry = manifest["lines"]["prefix" if contender in PREFIX_CONTENDERS else "full"]
        n, chars = result
        _check(n == entry["lines"], f"{n} lines, expected {entry['lines']}")
        _check(chars == entry["chars"], f"{chars} characters, expected {entry['chars']}")
        return {"items": n, "bytes": entry["bytes"], "file": entry["path"]}
    if workload == "seq_read":
        expected = manifest["seq"]["bytes"]
        _check(result == expected, f"read {result} bytes, expected {expected}")
        return {"items": result, "bytes": result}
    if workload == "seq_write":
        expected = manifest["seq_write"]["bytes"]
        _check(result == expected, f"write() returned {result} bytes in all, expected {expected}")
        size = os.stat(args[0]).st_size
        _check(size == expected, f"file has {size} bytes, expected {expected}")
        return {"items": result, "bytes": result}
    n = _check_small(result)
    return {"items": n, "bytes": n * SMALL_SIZE}


def _raise_nofile_limit() -> None:
    """10,000 files may be open at once (aiofiles and aiofile open every file before the
    first read completes): lift the soft fd limit to the hard one, as a server would."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _caio_impl() -> str:
    from aiofile.aio import get_default_context

    ctx = get_default_context()
    name = type(ctx).__module__.removeprefix("caio.").removesuffix("_asyncio")
    return name + (" (sqpoll)" if getattr(ctx.context, "sqpoll", False) else "")


def measure(workload: str, contender: str, loop_name: str, data: Path) -> dict:
    manifest = load_manifest(data)
    func = FUNCS[workload][CONTENDERS.index(contender)]
    args = _args(workload, contender, data, manifest)
    os.sync()  # no dirty pages left from an earlier cell's writes
    extra: dict = {}
    try:
        if contender == "sync":
            start = time.perf_counter()
            result = func(*args)
            seconds = time.perf_counter() - start
        else:
            warm_arg = [data / "warm.bin"] if contender == "to_thread" else [str(data / "warm.bin")]

            async def main():
                await WARM[contender](warm_arg)
                start = time.perf_counter()
                result = await func(*args)
                seconds = time.perf_counter() - start
                if contender == "aiofile":
                    extra["caio"] = _caio_impl()
                elif contender == "aioxide.fs":
                    import aioxide.fs

                    extra["backend"] = aioxide.fs.backend()
                return seconds, result

            loop = new_loop(loop_name)
            try:
                seconds, result = loop.run_until_complete(main())
                loop.run_until_complete(loop.shutdown_default_executor())
            finally:
                loop.close()
        extra.update(_verify(workload, contender, result, manifest, args))
    finally:
        if workload == "seq_write":
            Path(args[0]).unlink(missing_ok=True)
    return {"workload": workload, "contender": contender,
            "loop": "none" if contender == "sync" else loop_name, "seconds": seconds, **extra}


def main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workload", choices=WORKLOADS)
    parser.add_argument("contender", choices=CONTENDERS)
    parser.add_argument("loop", choices=("aioxide", "uvloop", "asyncio"))
    parser.add_argument("--data", type=Path, required=True)
    args = parser.parse_args(argv)
    _raise_nofile_limit()
    try:
        result = measure(args.workload, args.contender, args.loop, args.data)
    except CheckFailed as exc:
        print(f"wrong result: {exc}", file=sys.stderr)
        return 3
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
