"""The aiofile-compatible surface: ``AIOFile``, ``Reader``, ``LineReader``, ``Writer``,
``async_open``. Code written for aiofile runs on these by changing its import; the I/O
goes through the aioxide fs engine instead of caio.

``AIOFile`` has no position: every read and write names its offset, as in aiofile.
"""

from __future__ import annotations

import asyncio
import codecs
import os

from .._aioxide import LineBuffer
from . import _args, _engine
from ._modes import FileMode, parse_mode


class AIOFile:
    """A file opened for offset-addressed async reads and writes (aiofile's ``AIOFile``)."""

    def __init__(self, filename, mode: str = "r", encoding: str = "utf-8",
                 context=None, executor=None) -> None:
        self._fname = str(os.fspath(filename))
        self._open_mode = mode
        self.mode: FileMode = parse_mode(mode)
        self._encoding = encoding
        self._fd: int | None = None
        self._closed = False
        self._opening: asyncio.Future | None = None
        self._loop = None
        self._engine = None

    @property
    def name(self) -> str:
        return self._fname

    @property
    def loop(self):
        return self._loop

    @property
    def encoding(self) -> str:
        return self._encoding

    @property
    def closed(self) -> bool:
        return self._fd is None or self._closed

    def __repr__(self) -> str:
        return f"<AIOFile: {self._fname!r}>"

    async def open(self) -> int | None:
        """Open the file; returns the descriptor the first time, None after."""
        if self._fd is not None:
            if self._closed:
                raise asyncio.InvalidStateError("AIOFile closed")
            return None
        if self._opening is not None:
            await asyncio.shield(self._opening)
            return None
        self._loop, self._engine = _engine.current()
        fut = self._opening = self._loop.create_future()
        self._engine.open(_args.path_bytes(self._fname), self.mode.flags, 0o666, self._fname, fut)
        try:
            self._fd = (await asyncio.shield(fut))[0]
        finally:
            self._opening = None
        return self._fd

    def fileno(self) -> int:
        if self._fd is None or self._closed:
            raise asyncio.InvalidStateError("AIOFile closed")
        return self._fd

    def __await__(self):
        yield from self.open().__await__()
        return self

    async def __aenter__(self) -> AIOFile:
        await self.open()
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.close()

    async def _request(self, method: str, *args):
        fut = self._loop.create_future()
        getattr(self._engine, method)(*args, fut)
        return await fut

    async def close(self) -> None:
        if self._fd is None or self._closed:
            return
        if self.mode.writable:
            await self.fdsync()
        self._closed = True
        fut = self._loop.create_future()
        self._engine.close_fd(self._fd, fut)
        await asyncio.shield(fut)

    def encode_bytes(self, data: str) -> bytes:
        return data.encode(self._encoding)

    def decode_bytes(self, data: bytes) -> str:
        return data.decode(self._encoding)

    async def read(self, size: int = -1, offset: int = 0):
        """``size`` bytes (all with -1) at ``offset``; str in text mode."""
        data = await self.read_bytes(size, offset)
        return data if self.mode.binary else self.decode_bytes(data)

    async def read_bytes(self, size: int = -1, offset: int = 0) -> bytes:
        if size < -1:
            raise ValueError(f"Unsupported value {size} for size")
        fd = self.fileno()
        if size == -1:
            size = os.fstat(fd).st_size
        if size == 0:
            return b""
        return await self._request("pread", fd, size, offset)

    async def write(self, data, offset: int = 0) -> int:
        if self.mode.binary:
            if not isinstance(data, bytes):
                raise ValueError("Data must be bytes in binary mode")
            raw = data
        else:
            if not isinstance(data, str):
                raise ValueError("Data must be str in text mode")
            raw = self.encode_bytes(data)
        return await self.write_bytes(raw, offset)

    async def write_bytes(self, data: bytes, offset: int = 0) -> int:
        if not data:
            return 0
        return await self._request("pwrite", self.fileno(), bytes(data), offset)

    async def fsync(self) -> None:
        await self._request("sync", self.fileno(), False)

    async def fdsync(self) -> None:
        await self._request("sync", self.fileno(), True)

    def truncate(self, length: int = 0):
        return self._request("ftruncate", self.fileno(), length)


class Reader:
    """Async iterator of ``chunk_size`` chunks from ``offset`` (str in text mode, cut
    at character boundaries)."""

    CHUNK_SIZE = 32 * 1024

    def __init__(self, aio_file: AIOFile, offset: int = 0, chunk_size: int = CHUNK_SIZE) -> None:
        self.file = aio_file
        self.encoding = aio_file.encoding
        self._offset = int(offset)
        self._chunk_size = int(chunk_size)
        self._lock = asyncio.Lock()
        binary = aio_file.mode.binary
        self._decoder = None if binary else codecs.getincrementaldecoder(self.encoding)()

    async def read_chunk(self):
        async with self._lock:
            data = await self.file.read_bytes(self._chunk_size, self._offset)
            self._offset += len(data)
            if self._decoder is None:
                return data
            text = self._decoder.decode(data, len(data) < self._chunk_size)
            while data and not text:  # a chunk inside one multi-byte character
                data = await self.file.read_bytes(self._chunk_size, self._offset)
                self._offset += len(data)
                text = self._decoder.decode(data, len(data) < self._chunk_size)
            return text

    def __aiter__(self) -> Reader:
        return self

    async def __anext__(self):
        chunk = await self.read_chunk()
        if not chunk:
            raise StopAsyncIteration(chunk)
        return chunk


class Writer:
    """``await writer(data)`` writes at the writer's offset and moves it on."""

    def __init__(self, aio_file: AIOFile, offset: int = 0) -> None:
        self._file = aio_file
        self._offset = int(offset)
        self._lock = asyncio.Lock()

    async def __call__(self, data) -> None:
        async with self._lock:
            if isinstance(data, str):
                data = self._file.encode_bytes(data)
            await self._file.write_bytes(data, self._offset)
            self._offset += len(data)


class LineReader:
    """Async iterator of the lines of an ``AIOFile`` from ``offset``, each ending with
    ``line_sep`` but perhaps the last; served from a buffer filled by large reads."""

    CHUNK_SIZE = 4192
    MIN_READ = 256 * 1024

    def __init__(self, aio_file: AIOFile, offset: int = 0, chunk_size: int = CHUNK_SIZE,
                 line_sep: str = "\n") -> None:
        self._file = aio_file
        self._offset = int(offset)
        self._read_size = max(int(chunk_size), self.MIN_READ)
        binary = aio_file.mode.binary
        self.linesep = aio_file.encode_bytes(line_sep) if binary else line_sep
        self._decoder = None if binary else codecs.getincrementaldecoder(aio_file.encoding)()
        native = line_sep in ("\n", "\r", "\r\n")
        self._buffer = LineBuffer(not binary, line_sep, self._next_slow) if native else None
        self._pending = b"" if binary else ""
        self._eof = False
        self._lock = asyncio.Lock()

    async def _read(self):
        data = await self._file.read_bytes(self._read_size, self._offset)
        self._offset += len(data)
        eof = len(data) < self._read_size
        chunk = data if self._decoder is None else self._decoder.decode(data, eof)
        return chunk, eof

    async def readline(self):
        if self._buffer is not None:
            line = self._buffer.readline()
            if line is not None:
                return line
            async with self._lock:
                while (line := self._buffer.readline()) is None:
                    chunk, eof = await self._read()
                    self._buffer.feed(chunk, eof)
                return line
        async with self._lock:
            while True:
                at = self._pending.find(self.linesep)
                if at >= 0:
                    end = at + len(self.linesep)
                    line, self._pending = self._pending[:end], self._pending[end:]
                    return line
                if self._eof:
                    line, self._pending = self._pending, self._pending[:0]
                    return line
                chunk, self._eof = await self._read()
                self._pending += chunk

    def __aiter__(self):
        return self._buffer if self._buffer is not None else self

    async def _next_slow(self):
        line = await self.readline()
        if not line:
            raise StopAsyncIteration(line)
        return line

    async def __anext__(self):
        return await self._next_slow()


class _Wrapper:
    """What ``async_open`` returns: an ``AIOFile`` with a position of its own."""

    _READLINE_CHUNK = 64 * 1024

    def __init__(self, afp: AIOFile, *, offset: int = 0) -> None:
        self.file = afp
        self._offset = offset
        self._lock = asyncio.Lock()
        if afp.mode.appending:
            try:
                self._offset = os.stat(afp.name).st_size
            except FileNotFoundError:
                self._offset = 0

    def seek(self, offset: int) -> None:
        self._offset = offset

    def tell(self) -> int:
        return self._offset

    @property
    def closed(self) -> bool:
        return self.file.closed

    async def flush(self, sync_metadata: bool = False) -> None:
        if sync_metadata:
            await self.file.fsync()
        else:
            await self.file.fdsync()

    async def close(self) -> None:
        await self.file.close()

    def __await__(self):
        yield from self.file.__await__()
        return self

    async def __aenter__(self):
        await self.file.open()
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.close()

    def __aiter__(self):
        return LineReader(self.file).__aiter__()

    def iter_chunked(self, chunk_size: int = Reader.CHUNK_SIZE) -> Reader:
        return Reader(self.file, chunk_size=chunk_size, offset=self._offset)


class BinaryFileWrapper(_Wrapper):
    def __init__(self, afp: AIOFile) -> None:
        if not afp.mode.binary:
            raise ValueError("Expected file in binary mode")
        super().__init__(afp)

    async def read(self, length: int = -1) -> bytes:
        async with self._lock:
            data = await self.file.read_bytes(length, self._offset)
            self._offset += len(data)
            return data

    async def write(self, data: bytes) -> int:
        async with self._lock:
            offset = self._offset
            self._offset += len(data)
        await self.file.write_bytes(data, offset)
        return len(data)

    async def readline(self, size: int = -1, newline: bytes = b"\n") -> bytes:
        async with self._lock:
            found = b""
            while True:
                at_offset = self._offset + len(found)
                chunk = await self.file.read_bytes(self._READLINE_CHUNK, at_offset)
                found += chunk
                at = found.find(newline)
                end = len(found) if at < 0 else at + len(newline)
                if at >= 0 or len(chunk) < self._READLINE_CHUNK or 0 < size <= len(found):
                    if 0 < size < end:
                        end = size
                    line = found[:end]
                    self._offset += len(line)
                    return line


class TextFileWrapper(_Wrapper):
    def __init__(self, afp: AIOFile) -> None:
        if afp.mode.binary:
            raise ValueError("Expected file in text mode")
        super().__init__(afp)
        self.encoding = afp.encoding

    async def _decode_from(self, want_chars: int, stop: str | None):
        """Decode from the offset until ``want_chars`` characters (or ``stop``) arrive;
        returns the text and how many bytes it took."""
        decoder = codecs.getincrementaldecoder(self.encoding)()
        text = ""
        used = 0
        while True:
            size = self._READLINE_CHUNK if want_chars < 0 else max(want_chars - len(text), 1)
            data = await self.file.read_bytes(size, self._offset + used)
            used += len(data)
            eof = len(data) < size
            text += decoder.decode(data, eof)
            if eof or (0 <= want_chars <= len(text)) or (stop is not None and stop in text):
                return text, used

    async def read(self, length: int = -1) -> str:
        async with self._lock:
            if length < 0:
                data = await self.file.read_bytes(-1, self._offset)
                self._offset += len(data)
                return data.decode(self.encoding)
            text, _used = await self._decode_from(length, None)
            text = text[:length]
            self._offset += len(text.encode(self.encoding))
            return text

    async def write(self, data: str) -> int:
        async with self._lock:
            raw = data.encode(self.encoding)
            offset = self._offset
            self._offset += len(raw)
        await self.file.write_bytes(raw, offset)
        return len(raw)

    async def readline(self, size: int = -1, newline: str = "\n") -> str:
        async with self._lock:
            text, _used = await self._decode_from(-1, newline)
            at = text.find(newline)
            end = len(text) if at < 0 else at + len(newline)
            if 0 < size < end:
                end = size
            line = text[:end]
            self._offset += len(line.encode(self.encoding))
            return line


def async_open(file_specifier, mode: str = "r", *args, **kwargs):
    """Open ``file_specifier`` (a path) for use with ``await``/``async with``; aiofile's
    ``async_open``."""
    if not isinstance(file_specifier, (str, bytes, os.PathLike)):
        raise TypeError("async_open() takes a path")
    afp = AIOFile(file_specifier, mode, *args, **kwargs)
    return BinaryFileWrapper(afp) if afp.mode.binary else TextFileWrapper(afp)
