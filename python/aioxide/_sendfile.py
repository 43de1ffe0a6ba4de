"""``sock_sendfile`` and ``sendfile``: zero-copy ``sendfile(2)`` when the file allows
it (natively, with the GIL released as ``os.sendfile`` does), else (or when the kernel
refuses before any byte went out) a read/``sock_sendall`` fallback, following asyncio's
rules for parameters, file position and errors.

``loop.sendfile(transport, ...)`` on a native socket transport waits for the transport's
write buffer to drain, pauses its reading and hands its socket to ``sock_sendfile``;
other transports (TLS) get the fallback, which writes through the transport with its
flow control.
"""

from __future__ import annotations

import functools
import io
import os
import socket
from asyncio import constants, protocols

from . import _versions
from ._aioxide import sendfile as native_sendfile
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
            return await self._sock_sendfile_native(sock, file, offset, count)
        except SendfileNotAvailableError:
            if not fallback:
                raise
        return await self._sock_sendfile_fallback(sock, file, offset, count)

    async def _sock_sendfile_native(self, sock, file, offset, count):
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
                    native_sendfile, sock.fileno(), fileno, offset + total, blocksize
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
            if total > 0 or _versions.SENDFILE_ALWAYS_SEEKS:
                os.lseek(fileno, offset + total, os.SEEK_SET)

    async def _sock_sendfile_fallback(self, sock, file, offset, count):
        if offset or (_versions.SENDFILE_ALWAYS_SEEKS and hasattr(file, "seek")):
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


class _FallbackProtocol(protocols.Protocol):
    """Stands in for a transport's protocol while the sendfile fallback writes through
    it: ``drain()`` waits while the transport asks its producer to pause."""

    def __init__(self, transport):
        self._transport = transport
        self._proto = transport.get_protocol()
        self._resume_reading = transport.is_reading()
        self._resume_writing = bool(getattr(transport, "_protocol_paused", False))
        transport.pause_reading()
        transport.set_protocol(self)
        self._ready = transport._loop.create_future() if self._resume_writing else None

    async def drain(self) -> None:
        if self._transport.is_closing():
            raise ConnectionError("Connection closed by peer")
        if self._ready is not None:
            await self._ready

    def connection_made(self, transport):
        raise RuntimeError("Invalid state: connection should have been established already.")

    def connection_lost(self, exc) -> None:
        if self._ready is not None:
            self._ready.set_exception(
                exc if exc is not None else ConnectionError("Connection is closed by peer"))
        self._proto.connection_lost(exc)

    def pause_writing(self) -> None:
        if self._ready is None:
            self._ready = self._transport._loop.create_future()

    def resume_writing(self) -> None:
        if self._ready is not None:
            self._ready.set_result(False)
            self._ready = None

    def data_received(self, data):
        raise RuntimeError("Invalid state: reading should be paused")

    def eof_received(self):
        raise RuntimeError("Invalid state: reading should be paused")

    async def restore(self) -> None:
        self._transport.set_protocol(self._proto)
        if self._resume_reading:
            self._transport.resume_reading()
        if self._ready is not None:
            self._ready.cancel()
        if self._resume_writing:
            self._proto.resume_writing()


class TransportSendfileMixin:
    async def sendfile(self, transport, file, offset=0, count=None, *, fallback=True):
        """Send ``file`` over ``transport``; returns the number of bytes sent."""
        if transport.is_closing():
            raise RuntimeError("Transport is closing")
        mode = getattr(transport, "_sendfile_compatible", constants._SendfileMode.UNSUPPORTED)
        if mode is constants._SendfileMode.UNSUPPORTED:
            raise RuntimeError(f"sendfile is not supported for transport {transport!r}")
        if mode is constants._SendfileMode.TRY_NATIVE:
            try:
                return await self._sendfile_native(transport, file, offset, count)
            except SendfileNotAvailableError:
                if not fallback:
                    raise
        if not fallback:
            raise RuntimeError(f"fallback is disabled and native sendfile is not "
                               f"supported for transport {transport!r}")
        return await self._sendfile_fallback(transport, file, offset, count)

    async def _sendfile_native(self, transport, file, offset, count):
        fd = transport._sock_fd
        self._transports.pop(fd, None)
        resume_reading = transport.is_reading()
        transport.pause_reading()
        await transport._make_empty_waiter()
        try:
            return await self.sock_sendfile(transport._sock, file, offset, count,
                                            fallback=False)
        finally:
            transport._reset_empty_waiter()
            if resume_reading:
                transport.resume_reading()
            self._transports[fd] = transport

    async def _sendfile_fallback(self, transport, file, offset, count):
        if offset or (_versions.SENDFILE_ALWAYS_SEEKS and hasattr(file, "seek")):
            file.seek(offset)
        limit = 16384
        blocksize = min(count, limit) if count else limit
        buf = bytearray(blocksize)
        total = 0
        proto = _FallbackProtocol(transport)
        try:
            while True:
                if count:
                    blocksize = min(count - total, blocksize)
                    if blocksize <= 0:
                        return total
                view = memoryview(buf)[:blocksize]
                got = await self.run_in_executor(None, file.readinto, view)
                if not got:
                    return total
                await proto.drain()
                transport.write(view[:got])
                total += got
        finally:
            if total > 0 and hasattr(file, "seek"):
                file.seek(offset + total)
            await proto.restore()
