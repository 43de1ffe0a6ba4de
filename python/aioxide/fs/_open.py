"""``aioxide.fs.open``: awaitable and async context manager."""

from __future__ import annotations

import asyncio
import codecs
import os

from . import _args, _engine
from ._file import AsyncFile
from ._modes import check_text_arguments, parse_mode, text_encoding
from ._text import AsyncTextFile


async def _open_file(file, mode, info, buffering, encoding, errors, newline):
    """Open a file whose arguments ``open()`` has already checked (``info`` is the
    parsed ``mode``)."""
    if isinstance(file, int):
        raise TypeError("aioxide.fs.open() takes a path, not a file descriptor")
    path = os.fspath(file)
    if not info.binary:
        encoding = text_encoding(encoding)
        codecs.lookup(encoding)  # an unknown encoding fails before anything is opened
    loop, engine = _engine.current()
    fut = loop.create_future()
    engine.open(_args.path_bytes(path), info.flags, 0o666, path, fut)
    try:
        fd, blksize, position = await asyncio.shield(fut)
    except asyncio.CancelledError:
        # The open may still succeed: close what it opens.
        fut.add_done_callback(_close_late_open)
        raise
    try:
        if info.binary:
            return AsyncFile(loop, fd, path, info, buffering, blksize, position)
        return AsyncTextFile(
            loop, fd, path, info, buffering, blksize, position,
            encoding=encoding, errors=errors or "strict", newline=newline,
            mode=mode,
        )
    except BaseException:
        os.close(fd)
        raise


def _close_late_open(fut: asyncio.Future) -> None:
    if not fut.cancelled() and fut.exception() is None:
        os.close(fut.result()[0])


class _Opener:
    """What ``open()`` returns: ``await`` it for the file, or ``async with`` it to have
    the file closed at the end of the block."""

    __slots__ = ("_args", "_file")

    def __init__(self, args) -> None:
        self._args = args
        self._file = None

    def __await__(self):
        return _open_file(*self._args).__await__()

    async def __aenter__(self):
        self._file = await _open_file(*self._args)
        return self._file

    async def __aexit__(self, *exc_info) -> None:
        file, self._file = self._file, None
        if file is not None:
            await file.close()


def open(file, mode="r", buffering=-1, encoding=None, errors=None, newline=None):  # noqa: A001
    """Open ``file`` for async I/O; arguments and errors as built-in ``open``.

        async with aioxide.fs.open("log.txt") as f:
            async for line in f:
                ...
    """
    info = parse_mode(mode)
    check_text_arguments(info, buffering, encoding, errors, newline)
    return _Opener((file, mode, info, buffering, encoding, errors, newline))
