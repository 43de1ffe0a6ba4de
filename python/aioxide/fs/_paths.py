"""Whole-file helpers and async versions of ``os`` path calls, each one engine request."""

from __future__ import annotations

import asyncio
import io
import os

from . import _args, _engine
from ._modes import text_encoding


async def _request(method: str, *args):
    loop, engine = _engine.current()
    fut = loop.create_future()
    getattr(engine, method)(*args, fut)
    return await asyncio.shield(fut)


def _path(path) -> tuple[bytes, object]:
    name = os.fspath(path)
    return _args.path_bytes(name), name


async def read_bytes(path) -> bytes:
    """The whole content of ``path`` (``pathlib.Path.read_bytes``)."""
    raw, name = _path(path)
    return await _request("read_file", raw, name)


async def read_text(path, encoding=None, errors=None, newline=None) -> str:
    """The decoded content of ``path``, newlines as built-in ``open`` gives them."""
    data = await read_bytes(path)
    stream = io.TextIOWrapper(io.BytesIO(data), encoding=text_encoding(encoding),
                              errors=errors, newline=newline)
    return stream.read()


async def write_bytes(path, data) -> int:
    """Create or truncate ``path`` and write ``data``; returns the byte count."""
    raw, name = _path(path)
    if not isinstance(data, bytes):
        data = memoryview(data).tobytes()
    return await _request("write_file", raw, data, name)


async def write_text(path, data: str, encoding=None, errors=None, newline=None) -> int:
    """Create or truncate ``path`` and write ``data`` encoded as built-in ``open`` would;
    returns the number of characters (``pathlib.Path.write_text``)."""
    if not isinstance(data, str):
        raise TypeError(f"data must be str, not {type(data).__name__}")
    buffer = io.BytesIO()
    stream = io.TextIOWrapper(buffer, encoding=text_encoding(encoding), errors=errors,
                              newline=newline)
    stream.write(data)
    stream.flush()
    await write_bytes(path, buffer.getvalue())
    return len(data)


async def stat(path, *, follow_symlinks: bool = True) -> os.stat_result:
    """``os.stat``."""
    raw, name = _path(path)
    numbers = await _request("stat", raw, follow_symlinks, name)
    return _stat_result(numbers)


def _stat_result(n) -> os.stat_result:
    (mode, ino, dev, nlink, uid, gid, size, atime, mtime, ctime, atime_ns, mtime_ns,
     ctime_ns, blksize, blocks, rdev) = n
    return os.stat_result(
        (mode, ino, dev, nlink, uid, gid, size, atime, mtime, ctime),
        {
            "st_atime": atime + atime_ns * 1e-9,
            "st_mtime": mtime + mtime_ns * 1e-9,
            "st_ctime": ctime + ctime_ns * 1e-9,
            "st_atime_ns": atime * 1_000_000_000 + atime_ns,
            "st_mtime_ns": mtime * 1_000_000_000 + mtime_ns,
            "st_ctime_ns": ctime * 1_000_000_000 + ctime_ns,
            "st_blksize": blksize,
            "st_blocks": blocks,
            "st_rdev": rdev,
        },
    )


async def exists(path) -> bool:
    """``os.path.exists``: False for a missing path or one that cannot be checked."""
    try:
        await stat(path)
    except (OSError, ValueError):
        return False
    return True


async def remove(path) -> None:
    """``os.remove``."""
    raw, name = _path(path)
    await _request("remove", raw, name)


async def rename(src, dst) -> None:
    """``os.rename``."""
    raw_src, name_src = _path(src)
    raw_dst, name_dst = _path(dst)
    await _request("rename", raw_src, raw_dst, name_src, name_dst)


async def makedirs(path, mode: int = 0o777, exist_ok: bool = False) -> None:
    """``os.makedirs``."""
    raw, name = _path(path)
    await _request("makedirs", raw, mode, exist_ok, name)


async def listdir(path=".") -> list:
    """``os.listdir``: str names for a str path, bytes names for a bytes path."""
    raw, name = _path(path)
    names = await _request("listdir", raw, name)
    if isinstance(name, bytes):
        return names
    return [os.fsdecode(n) for n in names]
