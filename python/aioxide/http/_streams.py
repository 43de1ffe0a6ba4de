"""``response.content``: aiohttp's ``StreamReader`` read API over a native connection.

The body lives in the connection's native buffer. Each read takes what it needs from
there and waits on a future only when the buffer cannot serve it, so a body that has
arrived is read with no wake-up at all.
"""

from __future__ import annotations

import asyncio

from .._aioxide import HttpDisconnected, HttpHeadError, HttpPayloadError
from ._exceptions import (
    ClientConnectionError,
    ClientError,
    ClientOSError,
    ClientPayloadError,
    ClientResponseError,
    ServerDisconnectedError,
    SocketTimeoutError,
)


def translate(exc: BaseException, request_info=None, history=()) -> BaseException:
    """The aiohttp exception for a native protocol or transport error."""
    if isinstance(exc, (TimeoutError, ClientError)):
        return exc  # already what the caller should see (TimeoutError is an OSError)
    if isinstance(exc, HttpPayloadError):
        return ClientPayloadError(f"Response payload is not completed: {exc}")
    if isinstance(exc, HttpHeadError):
        return ClientResponseError(request_info, history, status=400, message=str(exc))
    if isinstance(exc, HttpDisconnected):
        return ServerDisconnectedError()
    if isinstance(exc, OSError) and not isinstance(exc, ClientOSError):
        return ClientOSError(exc.errno, exc.strerror or str(exc))
    return exc


class Deadline:
    """When a wait for bytes gives up: the request's ``total`` deadline (absolute loop
    time) or ``sock_read`` seconds per wait, whichever comes first."""

    __slots__ = ("loop", "at", "sock_read")

    def __init__(self, loop, at: float | None, sock_read: float | None) -> None:
        self.loop = loop
        self.at = at
        self.sock_read = sock_read or None

    async def wait(self, fut, on_timeout, reading: bool = True):
        """Awaits ``fut``; on timeout, calls ``on_timeout()`` and raises aiohttp's error.
        ``reading=False``: only the total deadline counts (``sock_read`` does not)."""
        at, per_read = self.at, False
        if reading and self.sock_read is not None:
            t = self.loop.time() + self.sock_read
            if at is None or t < at:
                at, per_read = t, True
        if at is None:
            return await fut
        timer = self.loop.call_at(at, _expire, fut)
        try:
            return await fut
        except _Expired:
            on_timeout()
            if per_read:
                raise SocketTimeoutError(
                    f"Timeout on reading data from socket: {self.sock_read}") from None
            raise asyncio.TimeoutError from None
        finally:
            timer.cancel()


class _Expired(Exception):
    pass


def _expire(fut) -> None:
    if not fut.done():
        fut.set_exception(_Expired())


class StreamReader:
    """The response body as a stream (aiohttp's ``response.content``)."""

    __slots__ = ("_conn", "_deadline", "_on_eof", "_high_water", "_total", "_exception", "_eof",
                 "_closed")

    def __init__(self, conn, deadline: Deadline, on_eof, limit: int = 2**18) -> None:
        self._conn = conn  # the native HttpConnection; None once released
        self._deadline = deadline
        self._on_eof = on_eof
        self._high_water = limit * 2
        self._total = 0
        self._exception: BaseException | None = None
        self._eof = conn is None
        self._closed = False

    def __repr__(self) -> str:
        state = "eof" if self._eof else f"{self._conn.buffered} bytes" if self._conn else ""
        return f"<StreamReader {state}>"

    # -- the buffer ---------------------------------------------------------------

    def _took(self, data: bytes) -> bytes:
        self._total += len(data)
        conn = self._conn
        if conn is not None and conn.body_done and conn.buffered == 0:
            self._finish()
        return data

    def _finish(self) -> None:
        if not self._eof:
            self._eof = True
            self._conn = None  # the connection may serve another request from now on
            self._on_eof()

    def _check(self) -> None:
        if self._exception is not None:
            raise self._exception
        if self._closed:
            raise ClientConnectionError("Connection closed")
        # The total timeout also ends reads that the buffer serves without waiting,
        # until the whole body has arrived (aiohttp's timer cancels the task).
        if self._eof:
            return
        at = self._deadline.at
        if at is not None and self._deadline.loop.time() >= at \
                and not (self._conn is not None and self._conn.body_done):
            self._abort()
            self._exception = asyncio.TimeoutError()
            raise self._exception

    def _close(self) -> None:
        """The response let its connection go before the body ended."""
        if not self._eof:
            self._closed = True
            self._conn = None

    async def _wait(self, collect_all: bool = False):
        conn = self._conn
        try:
            return await self._deadline.wait(conn.wait(collect_all), self._abort)
        except (HttpPayloadError, HttpDisconnected, OSError) as exc:
            raise self._failed(exc) from exc

    def _take(self, op, *args):
        try:
            return op(*args)
        except (HttpPayloadError, HttpDisconnected, OSError) as exc:
            raise self._failed(exc) from exc

    def _failed(self, exc: BaseException) -> BaseException:
        # A release while a read waits closes the connection under it: that read sees
        # the release, as aiohttp's does, not the broken body.
        self._exception = (ClientConnectionError("Connection closed") if self._closed
                           else translate(exc))
        return self._exception

    def _abort(self) -> None:
        if self._conn is not None:
            self._conn.close()

    # -- aiohttp's StreamReader API ------------------------------------------------

    def exception(self) -> BaseException | None:
        return self._exception

    def get_read_buffer_limits(self) -> tuple[int, int]:
        """(low, high) water marks: the session's ``read_bufsize`` and twice it."""
        return self._high_water // 2, self._high_water

    def set_exception(self, exc: BaseException) -> None:
        self._exception = exc

    def is_eof(self) -> bool:
        return self._eof

    def at_eof(self) -> bool:
        """True once the body has ended and all of it was read."""
        if not self._eof and self._conn is not None:
            if self._conn.body_done and self._conn.buffered == 0:
                self._finish()
        return self._eof

    @property
    def total_bytes(self) -> int:
        return self._total

    async def wait_eof(self) -> None:
        while not self.at_eof():
            self._check()
            if self._conn.buffered:
                await asyncio.sleep(0)  # a reader still has bytes to take
            else:
                await self._wait()

    def read_nowait(self, n: int = -1) -> bytes:
        self._check()
        if self._eof or self._conn is None:
            return b""
        return self._took(self._take(self._conn.take, n))

    async def read(self, n: int = -1) -> bytes:
        self._check()
        if n == 0 or self._eof:
            return b""
        conn = self._conn
        if n < 0:
            try:
                data = conn.take_all()
            except (HttpPayloadError, HttpDisconnected, OSError) as exc:
                raise self._failed(exc) from exc
            if data is None:
                if self._deadline.sock_read is not None:
                    return await self._read_gaps()
                data = await self._wait(collect_all=True)
            self._total += len(data)
            if conn.body_done and conn.buffered == 0:  # take_all took the whole body
                self._finish()
            return data
        while True:
            data = self._take(conn.take, n)
            if data or conn.body_done:
                return self._took(data)
            await self._wait()

    async def _read_gaps(self) -> bytes:
        """The rest of the body, with ``sock_read`` bounding each wait between pieces
        rather than the whole read."""
        parts = []
        while True:
            part = await self.read(self._high_water)
            if not part:
                return b"".join(parts)
            parts.append(part)

    async def readany(self) -> bytes:
        return await self.read(self._high_water)

    async def readline(self) -> bytes:
        return await self.readuntil(b"\n")

    async def readuntil(self, separator: bytes = b"\n") -> bytes:
        if separator != b"\n":
            return await self._readuntil_slow(separator)
        self._check()
        if self._eof:
            return b""
        conn = self._conn
        while True:
            line = self._take(conn.take_line)
            if line is not None:
                return self._took(line)
            if conn.body_done:
                return self._took(self._take(conn.take))
            if conn.buffered > self._high_water:
                raise ValueError("Chunk too big")
            await self._wait()

    async def _readuntil_slow(self, separator: bytes) -> bytes:
        if not separator:
            raise ValueError("Separator should be at least one-byte string")
        out = bytearray()
        while not out.endswith(separator):
            byte = await self.read(1)
            if not byte:
                break
            out += byte
            if len(out) > self._high_water:
                raise ValueError("Chunk too big")
        return bytes(out)

    async def readexactly(self, n: int) -> bytes:
        self._check()
        parts, got = [], 0
        while got < n:
            part = await self.read(n - got)
            if not part:
                raise asyncio.IncompleteReadError(b"".join(parts), n)
            parts.append(part)
            got += len(part)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    async def readchunk(self) -> tuple[bytes, bool]:
        """The next piece and whether it ends an HTTP chunk; ``(b"", False)`` at the end."""
        self._check()
        if self._eof:
            return b"", False
        conn = self._conn
        while True:
            data, end = self._take(conn.take_chunk)
            if data or conn.body_done:
                return self._took(data), end
            await self._wait()

    def __aiter__(self):
        return _Lines(self)

    def iter_chunked(self, n: int):
        return _Iter(self.read, n)

    def iter_any(self):
        return _Iter(self.readany)

    def iter_chunks(self):
        return _Chunks(self)


class _Iter:
    __slots__ = ("_read", "_args")

    def __init__(self, read, *args) -> None:
        self._read = read
        self._args = args

    def __aiter__(self):
        return self

    async def __anext__(self) -> bytes:
        data = await self._read(*self._args)
        if not data:
            raise StopAsyncIteration
        return data


class _Lines(_Iter):
    def __init__(self, reader: StreamReader) -> None:
        super().__init__(reader.readline)


class _Chunks:
    __slots__ = ("_reader",)

    def __init__(self, reader: StreamReader) -> None:
        self._reader = reader

    def __aiter__(self):
        return self

    async def __anext__(self) -> tuple[bytes, bool]:
        data, end = await self._reader.readchunk()
        if not data and not end:
            raise StopAsyncIteration
        return data, end


class EmptyStreamReader(StreamReader):
    """The body of a response that has none."""

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(None, None, lambda: None)
