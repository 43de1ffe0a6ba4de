"""``AsyncFile``: the binary file ``aioxide.fs.open`` returns (and the base of the text
file).

Reads are served from a native ``LineBuffer`` filled by large engine reads, so
``readline``, small ``read`` calls and ``async for`` cost no engine trip until the
buffer runs dry. Writes collect in a buffer flushed by large engine writes. The
position is kept here (the engine reads and writes at explicit offsets), and it moves
when a write is *handed to the engine*: a task cancelled while awaiting a write leaves
the write running to completion and the position where that write ends. An error of a
write nobody awaited any more is raised by the next operation on the file.
"""

from __future__ import annotations

import asyncio
import io
import os
import warnings

from .._aioxide import LineBuffer
from . import _args, _engine
from ._modes import FileMode, raw_mode_name

READ_CHUNK = 256 * 1024
WRITE_BUFFER = 256 * 1024
CURRENT = -1  # the engine's "at the file position" offset (O_APPEND writes)


# Built-in binary files take SEEK_DATA and SEEK_HOLE where the platform has them.
_WHENCE = frozenset(
    w
    for w in (os.SEEK_SET, os.SEEK_CUR, os.SEEK_END, getattr(os, "SEEK_DATA", None),
              getattr(os, "SEEK_HOLE", None))
    if w is not None
)

def _as_bytes(data) -> bytes:
    if isinstance(data, bytes):
        return data
    if isinstance(data, str):
        raise TypeError("a bytes-like object is required, not 'str'")
    try:
        return memoryview(data).tobytes()
    except TypeError:
        raise TypeError(
            f"a bytes-like object is required, not '{type(data).__name__}'"
        ) from None


class AsyncFile:
    """An open file on the event loop it was opened on (binary mode)."""

    _closed = True  # until __init__ has finished: __del__ then leaves the fd alone

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        fd: int,
        name,
        info: FileMode,
        buffering: int,
        blksize: int,
        position: int,
    ) -> None:
        self._loop = loop
        self._engine = _engine.engine_for(loop)
        self._fd = fd
        self.name = name
        self._info = info
        self._unbuffered = buffering == 0
        size = buffering if buffering > 1 else 0
        self._chunk = max(size, READ_CHUNK) if size == 0 else size
        self._wlimit = size or WRITE_BUFFER
        self._pos = position  # logical position when the read buffer is empty
        self._wbuf = bytearray()
        self._wstart = 0
        self._inflight: set = set()
        self._abandoned: set = set()
        self._late_error: BaseException | None = None
        self._lock = asyncio.Lock()
        self._rbuf = self._make_buffer()
        self._closed = False

    def _make_buffer(self) -> LineBuffer:
        return LineBuffer(False, "\n", self._anext_slow)

    # -- state ---------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def mode(self) -> str:
        return raw_mode_name(self._info)

    def fileno(self) -> int:
        self._check_open()
        return self._fd

    def readable(self) -> bool:
        self._check_open()
        return self._info.readable

    def writable(self) -> bool:
        self._check_open()
        return self._info.writable

    def seekable(self) -> bool:
        self._check_open()
        return True

    def isatty(self) -> bool:
        self._check_open()
        return os.isatty(self._fd)

    def __repr__(self) -> str:
        return f"<aioxide.fs.{type(self).__name__} name={self.name!r} mode={self.mode!r}>"

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError("I/O operation on closed file.")
        if self._late_error is not None:
            error, self._late_error = self._late_error, None
            raise error

    def _check_readable(self) -> None:
        self._check_open()
        if not self._info.readable:
            raise io.UnsupportedOperation("read")

    def _check_writable(self, message: str = "write") -> None:
        self._check_open()
        if not self._info.writable:
            raise io.UnsupportedOperation(message)

    # -- engine requests -----------------------------------------------------------

    def _submit(self, request, *args) -> asyncio.Future:
        """Hand one request to the engine and track its future. The future is tracked
        only once the engine took the request: one refused at once (``MemoryError`` for
        a huge read, say) leaves nothing that ``close()`` would wait for."""
        fut = self._loop.create_future()
        request(*args, fut)
        self._inflight.add(fut)
        fut.add_done_callback(self._request_done)
        return fut

    def _request_done(self, fut: asyncio.Future) -> None:
        self._inflight.discard(fut)
        if fut in self._abandoned:
            self._abandoned.discard(fut)
            if not fut.cancelled() and fut.exception() is not None:
                self._late_error = fut.exception()

    async def _raw_read(self, size: int, offset: int) -> bytes:
        return await self._submit(self._engine.pread, self._fd, size, offset)

    async def _raw_write(self, data: bytes, offset: int) -> int:
        fut = self._submit(self._engine.pwrite, self._fd, data, offset)
        try:
            return await asyncio.shield(fut)
        except asyncio.CancelledError:
            if not fut.done():
                self._abandoned.add(fut)
            raise

    async def _call(self, method, *args):
        return await asyncio.shield(self._submit(getattr(self._engine, method), *args))

    async def _settle(self) -> None:
        """Wait until no engine request of this file is in flight."""
        while self._inflight:
            await asyncio.wait(list(self._inflight))

    # -- positions -----------------------------------------------------------------

    def _position(self) -> int:
        if self._wbuf:
            return self._wstart + len(self._wbuf)
        return self._pos - len(self._rbuf)

    async def _discard_read_ahead(self) -> None:
        """Forget buffered read-ahead, keeping the position where reading got to."""
        if len(self._rbuf):
            self._pos -= len(self._rbuf)
        self._rbuf.clear()

    async def _sync_append_position(self) -> None:
        if self._info.appending:
            await self._settle()
            self._pos = os.lseek(self._fd, 0, os.SEEK_END)

    # -- reading -------------------------------------------------------------------

    async def _fill(self) -> bool:
        """One large read into the buffer; False at the end of the file."""
        data = await self._raw_read(self._chunk, self._pos)
        self._pos += len(data)
        self._rbuf.feed(data, len(data) < self._chunk)
        return bool(data)

    async def _before_read(self) -> None:
        if self._wbuf or self._inflight:
            await self._flush_locked()
            await self._settle()

    async def read(self, size: int | None = -1) -> bytes:
        self._check_readable()
        size = _args.read_size(size)
        buf = self._rbuf
        if 0 <= size <= len(buf) and not self._wbuf:
            return buf.take(size)
        async with self._lock:
            await self._before_read()
            if size < 0:
                return await self._read_all()
            parts = [buf.take(size)] if len(buf) else []
            need = size - (len(parts[0]) if parts else 0)
            while need > 0:
                if need >= self._chunk or self._unbuffered:
                    data = await self._raw_read(need, self._pos)
                    self._pos += len(data)
                    parts.append(data)
                    break
                if not await self._fill():
                    break
                part = buf.take(need)
                parts.append(part)
                need -= len(part)
            return b"".join(parts)

    async def _read_all(self) -> bytes:
        head = self._rbuf.take_all()
        return head + await self._read_rest()

    async def _read_rest(self) -> bytes:
        """Everything from the position to the end of the file, in as few reads as the
        file's current size allows."""
        parts = []
        try:
            want = max(os.fstat(self._fd).st_size - self._pos, 0) + 1
        except OSError:
            want = self._chunk
        while True:
            want = max(want, 1)
            data = await self._raw_read(want, self._pos)
            self._pos += len(data)
            parts.append(data)
            if len(data) < want:
                break
            want = self._chunk
        self._rbuf.clear()
        return b"".join(parts)

    async def read1(self, size: int = -1) -> bytes:
        self._check_readable()
        size = _args.optional_size(size)
        buf = self._rbuf
        if len(buf) and not self._wbuf:
            return buf.take(size if size >= 0 else len(buf))
        async with self._lock:
            await self._before_read()
            if size == 0:
                return b""
            if size >= self._chunk or self._unbuffered:
                data = await self._raw_read(size if size > 0 else self._chunk, self._pos)
                self._pos += len(data)
                return data
            await self._fill()
            return buf.take(size if size >= 0 else len(buf))

    async def readline(self, size: int | None = -1) -> bytes:
        self._check_readable()
        limit = _args.optional_size(size)
        if not self._wbuf:
            line = self._rbuf.readline(limit)
            if line is not None:
                return line
        async with self._lock:
            await self._before_read()
            while True:
                line = self._rbuf.readline(limit)
                if line is not None:
                    return line
                await self._fill()

    async def readlines(self, hint: int | None = -1) -> list:
        hint = _args.optional_size(hint)
        lines = []
        total = 0
        while True:
            line = await self.readline()
            if not line:
                return lines
            lines.append(line)
            total += len(line)
            if 0 < hint < total:
                return lines

    def __aiter__(self):
        self._check_readable()
        return self._rbuf

    async def _anext_slow(self):
        line = await self.readline()
        if not line:
            raise StopAsyncIteration
        return line

    async def pread(self, size: int, offset: int) -> bytes:
        """``size`` bytes at ``offset`` (fewer at the end), without moving the position."""
        self._check_readable()
        size, offset = _args.size(size), _args.offset(offset)
        if size < 0 or offset < 0:
            raise ValueError("size and offset must be non-negative")
        if size == 0:
            return b""
        if self._wbuf:
            await self.flush()
        return await self._raw_read(size, offset)

    # -- writing -------------------------------------------------------------------

    async def write(self, data) -> int:
        self._check_writable()
        raw = _as_bytes(data)
        return await self._write_bytes(raw, len(raw))

    async def _write_bytes(self, raw: bytes, result: int) -> int:
        await self._discard_read_ahead()
        n = len(raw)
        if self._unbuffered or (not self._wbuf and n >= self._wlimit):
            offset = CURRENT if self._info.appending else self._pos
            self._pos += n
            if n:
                await self._raw_write(raw, offset)
            await self._sync_append_position()
            return result
        if not self._wbuf:
            self._wstart = self._pos
        self._wbuf += raw
        self._pos += n
        if len(self._wbuf) >= self._wlimit:
            await self.flush()
        return result

    async def writelines(self, lines) -> None:
        # As io's writelines: each line is written, so nothing to write is no error.
        self._check_open()
        for line in lines:
            await self.write(line)

    async def pwrite(self, data, offset: int) -> int:
        """Write ``data`` at ``offset`` without moving the position."""
        self._check_writable()
        raw = _as_bytes(data)
        offset = _args.offset(offset)
        if offset < 0:
            raise ValueError("offset must be non-negative")
        if self._wbuf:
            await self.flush()
        await self._discard_read_ahead()
        return await self._raw_write(raw, offset) if raw else 0

    async def _flush_locked(self) -> None:
        if not self._wbuf:
            return
        data = bytes(self._wbuf)
        self._wbuf.clear()
        offset = CURRENT if self._info.appending else self._wstart
        await self._raw_write(data, offset)
        await self._sync_append_position()

    async def flush(self) -> None:
        self._check_open()
        await self._flush_locked()

    async def fsync(self) -> None:
        self._check_open()
        await self._flush_locked()
        await self._settle()
        await self._call("sync", self._fd, False)

    async def fdatasync(self) -> None:
        self._check_open()
        await self._flush_locked()
        await self._settle()
        await self._call("sync", self._fd, True)

    # -- positioning ---------------------------------------------------------------

    async def tell(self) -> int:
        self._check_open()
        if self._info.appending and (self._wbuf or self._inflight):
            await self._flush_locked()
            await self._sync_append_position()
        return self._position()

    async def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        self._check_open()
        offset = _args.offset(offset)
        whence = _args.whence(whence)
        if whence not in _WHENCE:
            raise ValueError(f"whence value {whence} unsupported")
        await self._flush_locked()
        position = self._position()
        if whence == os.SEEK_CUR:
            target = position + offset
        elif whence == os.SEEK_END:
            await self._settle()
            target = os.fstat(self._fd).st_size + offset
        elif whence != os.SEEK_SET:
            # SEEK_DATA / SEEK_HOLE: the file system finds the place (ENXIO past the
            # end, as built-in seek raises it).
            await self._settle()
            target = os.lseek(self._fd, offset, whence)
        else:
            target = offset
        if target < 0:
            raise OSError(22, os.strerror(22))
        self._rbuf.clear()
        self._pos = target
        return target

    async def truncate(self, size: int | None = None) -> int:
        self._check_writable("truncate")
        await self._flush_locked()
        await self._settle()
        if size is None:
            size = self._position()
        size = _args.size(size)
        if size < 0:
            raise OSError(22, os.strerror(22))
        await self._discard_read_ahead()
        await self._call("ftruncate", self._fd, size)
        return size

    # -- closing -------------------------------------------------------------------

    async def close(self) -> None:
        """Flush, wait for this file's requests in flight, close the descriptor."""
        if self._closed:
            return
        try:
            if self._wbuf:
                await self._flush_locked()
        finally:
            self._closed = True
            self._rbuf.clear()
            fd = self._fd
            if self._inflight:
                await asyncio.shield(self._close_when_idle(fd))
            else:
                await self._close_fd(fd)
        if self._late_error is not None:
            error, self._late_error = self._late_error, None
            raise error

    async def _close_when_idle(self, fd: int) -> None:
        await self._settle()
        await self._close_fd(fd)

    async def _close_fd(self, fd: int) -> None:
        fut = self._loop.create_future()
        self._engine.close_fd(fd, fut)
        await asyncio.shield(fut)

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.close()

    def __del__(self) -> None:
        if not getattr(self, "_closed", True):
            self._closed = True
            warnings.warn(f"unclosed file {self!r}", ResourceWarning, source=self, stacklevel=2)
            try:
                os.close(self._fd)
            except OSError:
                pass
