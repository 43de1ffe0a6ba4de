"""``AsyncTextFile``: text mode on top of ``AsyncFile``.

Decoding uses Python's own incremental decoders (and ``io.IncrementalNewlineDecoder``
for universal newlines), so every encoding, error handler and newline mode gives what
built-in ``open`` gives. Decoded text sits in the same native ``LineBuffer`` as binary
content. ``tell()`` returns a cookie built like the built-in one: the byte offset of a
point where the decoder had nothing pending, plus (above bit 64) the decoder's flags and
(above bit 128) how many characters to skip from there. For UTF-8 and other stateless
encodings without pending newline state it is simply the byte offset.
"""

from __future__ import annotations

import codecs
import io
import operator
import os
from collections import deque

from .._aioxide import LineBuffer
from . import _args
from ._file import AsyncFile


class AsyncTextFile(AsyncFile):
    """An open text file (see ``aioxide.fs.open``)."""

    def __init__(self, loop, fd, name, info, buffering, blksize, position, *,
                 encoding: str, errors: str, newline, mode: str) -> None:
        self.encoding = encoding
        self.errors = errors
        self._newline = newline
        self._mode_string = mode
        self._line_buffering = buffering == 1
        self._snaps: deque = deque()
        self._decoder = self._new_decoder()
        self._encoder = codecs.getincrementalencoder(encoding)(errors) if info.writable else None
        if self._encoder is not None and position > 0:
            self._encoder.setstate(0)
        buffering = -1 if buffering == 1 else buffering
        super().__init__(loop, fd, name, info, buffering, blksize, position)

    def _make_buffer(self) -> LineBuffer:
        newline = self._newline
        return LineBuffer(True, "\n" if newline is None else newline, self._anext_slow)

    def _new_decoder(self):
        decoder = codecs.getincrementaldecoder(self.encoding)(self.errors)
        if self._newline is None or self._newline == "":
            decoder = io.IncrementalNewlineDecoder(decoder, translate=self._newline is None)
        return decoder

    @property
    def mode(self) -> str:
        return self._mode_string

    @property
    def newlines(self):
        return getattr(self._decoder, "newlines", None)

    async def readline(self, size: int = -1) -> str:
        # io.TextIOWrapper.readline takes an integer only; None is a TypeError there,
        # unlike read(None), readlines(None) and a binary file's readline(None).
        return await super().readline(_args.size(size))

    @property
    def line_buffering(self) -> bool:
        return self._line_buffering

    # -- reading -------------------------------------------------------------------

    async def _fill(self) -> bool:
        leftover = self._rbuf.chars()
        before, state = self._pos, self._decoder.getstate()
        data = await self._raw_read(self._chunk, self._pos)
        eof = len(data) < self._chunk
        text = self._decoder.decode(data, eof)
        self._pos += len(data)
        snaps = self._snaps
        snaps.append((before, state, data, len(text)))
        covered = sum(s[3] for s in snaps)
        while len(snaps) > 1 and covered - snaps[0][3] >= leftover + len(text):
            covered -= snaps.popleft()[3]
        self._rbuf.feed(text, eof)
        return bool(data)

    async def read(self, size: int | None = -1) -> str:
        self._check_readable()
        size = _args.optional_size(size)
        async with self._lock:
            await self._before_read()
            buf = self._rbuf
            if size < 0:
                rest = buf.take_all()
                data = await self._read_rest()
                text = rest + self._decoder.decode(data, True)
                self._snaps.clear()
                return text
            parts = []
            need = size
            while need > 0:
                part = buf.take(need)
                if part:
                    parts.append(part)
                    need -= len(part)
                    continue
                if buf.eof or not await self._fill():
                    part = buf.take(need)
                    if part:
                        parts.append(part)
                        need -= len(part)
                        continue
                    break
            return "".join(parts)

    async def read1(self, size: int = -1):
        raise io.UnsupportedOperation("read1")

    async def pread(self, size: int, offset: int) -> bytes:
        """``size`` raw bytes at ``offset``, without moving the position."""
        return await super().pread(size, offset)

    # -- writing -------------------------------------------------------------------

    async def write(self, text) -> int:
        self._check_writable("not writable")
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        length = len(text)
        newline = self._newline
        if newline is None:
            if os.linesep != "\n":
                text = text.replace("\n", os.linesep)
        elif newline not in ("", "\n"):
            text = text.replace("\n", newline)
        await self._discard_read_ahead()
        raw = self._encoder.encode(text)
        await self._write_bytes(raw, length)
        if self._line_buffering and ("\n" in text or "\r" in text):
            await self.flush()
        return length

    async def _discard_read_ahead(self) -> None:
        """Drop decoded read-ahead, putting the byte position where reading got to."""
        if not (len(self._rbuf) or self._snaps):
            return
        cookie = await self.tell()
        base, _flags, _skip = _split_cookie(cookie)
        self._rbuf.clear()
        self._snaps.clear()
        self._decoder.reset()
        self._pos = base

    # -- positioning ---------------------------------------------------------------

    async def tell(self) -> int:
        self._check_open()
        if self._wbuf or self._inflight:
            await self._flush_locked()
            await self._sync_append_position()
        if not self._snaps:
            return self._pos - len(self._rbuf)
        unread = self._rbuf.chars()
        total = sum(s[3] for s in self._snaps)
        consumed = total - unread
        for before, state, data, count in self._snaps:
            if consumed <= count:
                return self._cookie_in(before, state, data, consumed)
            consumed -= count
        return self._pos

    def _decoded_len(self, state, data: bytes) -> tuple[int, tuple]:
        decoder = self._new_decoder()
        decoder.setstate(state)
        count = len(decoder.decode(data))
        return count, decoder.getstate()

    def _cookie_in(self, before: int, state, data: bytes, chars: int) -> int:
        """The cookie of the point ``chars`` characters into the text decoded from
        ``data`` (read at byte ``before`` with the decoder in ``state``)."""
        low, high = 0, len(data)
        while low < high:  # the shortest prefix that decodes to >= chars characters
            mid = (low + high) // 2
            if self._decoded_len(state, data[:mid])[0] >= chars:
                high = mid
            else:
                low = mid + 1
        for end in range(low, -1, -1):  # back to a point where nothing is pending
            count, (pending, flags) = self._decoded_len(state, data[:end])
            pending_cr = flags & 1 and self._newline in (None, "")
            if pending == b"" and not pending_cr and count <= chars:
                return _make_cookie(before + end, flags, chars - count)
        return _make_cookie(before, 0, chars)

    async def seek(self, cookie: int, whence: int = os.SEEK_SET) -> int:
        self._check_open()
        cookie = operator.index(cookie)  # a cookie packs decoder state: any size
        whence = _args.whence(whence)
        if whence == os.SEEK_CUR:
            if cookie != 0:
                raise io.UnsupportedOperation("can't do nonzero cur-relative seeks")
            return await self.tell()
        if whence == os.SEEK_END:
            if cookie != 0:
                raise io.UnsupportedOperation("can't do nonzero end-relative seeks")
            await self._flush_locked()
            await self._settle()
            self._reset_reading()
            self._pos = os.fstat(self._fd).st_size
            if self._encoder is not None:
                self._encoder.setstate(0) if self._pos else self._encoder.reset()
            return self._pos
        if whence != os.SEEK_SET:
            raise ValueError(f"invalid whence ({whence}, should be 0, 1 or 2)")
        if cookie < 0:
            raise ValueError(f"negative seek position {cookie}")
        await self._flush_locked()
        base, flags, skip = _split_cookie(cookie)
        self._reset_reading()
        self._pos = base
        if base or flags:
            self._decoder.setstate((b"", flags))
        if self._encoder is not None:
            self._encoder.setstate(0) if base else self._encoder.reset()
        if skip:
            await self.read(skip)
        return cookie

    def _reset_reading(self) -> None:
        self._rbuf.clear()
        self._snaps.clear()
        self._decoder.reset()

    async def truncate(self, size: int | None = None) -> int:
        if size is None:
            size = await self.tell()
        return await super().truncate(size)


def _make_cookie(position: int, flags: int, skip: int) -> int:
    return position | (flags << 64) | (skip << 128)


def _split_cookie(cookie: int) -> tuple[int, int, int]:
    mask = (1 << 64) - 1
    return cookie & mask, (cookie >> 64) & mask, cookie >> 128
