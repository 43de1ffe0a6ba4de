"""``sock_sendfile``: zero-copy ``os.sendfile`` when the file allows it, else (or when
the kernel refuses before any byte went out) a read/``sock_sendall`` fallback, following
asyncio's rules for parameters, file position and errors."""

from __future__ import annotations

import functools
import io
import os
import socket
from asyncio import constants

from ._sockets import _WRITE, SendfileNotAvailableError, _refuse_ssl_socket, not_connected


def _check_params(sock, file, offset, count) -> None:
    if "b" not in getattr(file, "mode", "b"):
        raise ValueError("file should be opened in binary mode")
    if sock.type != socket.SOCK_STREAM:
        raise ValueError("only SOCK_STREAM type sockets are supported")
    if count is not None:
        if not isinstance(count, int):
            raise TypeError(f"count must be a positive integer (got {count!r})")
        if count <= 0:
            raise ValueError(f"count must be a positive integer (got {count!r})")
    if not isinstance(offset, int):
        raise TypeError(f"offset must be a non-negative integer (got {offset!r})")
    if offset < 0:
        raise ValueError(f"offset must be a non-negative integer (got {offset!r})")


class SendfileMixin:
    async def sock_sendfile(self, sock, file, offset=0, count=None, *, fallback=True):
        if self.get_debug() and sock.gettimeout() != 0:
            raise ValueError("the socket must be non-blocking")
        _refuse_ssl_socket(sock)
        _check_params(sock, file, offset, count)
        try:
            return await self._sendfile_native(sock, file, offset, count)
        except SendfileNotAvailableError:
            if not fallback:
                raise
        return await self._sendfile_fallback(sock, file, offset, count)

    async def _sendfile_native(self, sock, file, offset, count):
        try:
            fileno = file.fileno()
        except (AttributeError, io.UnsupportedOperation):
            raise SendfileNotAvailableError("not a regular file") from None
        try:
            size = os.fstat(fileno).st_size
        except OSError:
            raise SendfileNotAvailableError("not a regular file") from None
        if not (count or size):
            return 0
        total = 0
        try:
            while True:
                blocksize = (count - total) if count else size
                if blocksize <= 0:
                    break
                send = functools.partial(
                    os.sendfile, sock.fileno(), fileno, offset + total, blocksize
                )
                try:
                    sent = await self._attempt(_WRITE, sock, send)
                except OSError as exc:
                    if total == 0:
                        raise SendfileNotAvailableError("os.sendfile call failed") from exc
                    raise not_connected(exc) from None
                if sent == 0:
                    break
                total += sent
            return total
        finally:
            if total > 0:
                os.lseek(fileno, offset + total, os.SEEK_SET)

    async def _sendfile_fallback(self, sock, file, offset, count):
        if offset:
            file.seek(offset)
        limit = constants.SENDFILE_FALLBACK_READBUFFER_SIZE
        blocksize = min(count, limit) if count else limit
        buf = bytearray(blocksize)
        total = 0
        try:
            while True:
                if count:
                    blocksize = min(count - total, blocksize)
                    if blocksize <= 0:
                        break
                view = memoryview(buf)[:blocksize]
                got = await self.run_in_executor(None, file.readinto, view)
                if not got:
                    break
                await self.sock_sendall(sock, view[:got])
                total += got
            return total
        finally:
            if total > 0 and hasattr(file, "seek"):
                file.seek(offset + total)
