"""``connect_read_pipe`` / ``connect_write_pipe`` and their transports (pipes, FIFOs,
sockets and character devices such as ptys), with asyncio's semantics.

These are Python over the loop's native watchers; the native pipe transports and
subprocesses are the work of issue #4.
"""

from __future__ import annotations

import errno
import os
import stat
import warnings
from asyncio import futures, transports
from asyncio.log import logger

from ._flow import FlowControl
from ._transport_basics import TransportBasics

_MAX_READ = 256 * 1024
_LOG_THRESHOLD_FOR_CONNLOST_WRITES = 5


def _mode(fileno: int) -> int:
    return os.fstat(fileno).st_mode


class _PipeTransportBase(TransportBasics):
    """What both directions share: the pipe, closing, errors, repr."""

    _pipe = None
    _kind = "pipe"

    def _init_pipe(self, loop, pipe, protocol) -> None:
        self._extra["pipe"] = pipe
        self._loop = loop
        self._pipe = pipe
        self._fileno = pipe.fileno()
        self._protocol = protocol
        self._closing = False

    def __repr__(self) -> str:
        info = [type(self).__name__]
        if self._pipe is None:
            info.append("closed")
        elif self._closing:
            info.append("closing")
        info.append(f"fd={self._fileno}")
        if self._pipe is not None and self._loop is not None and not self._loop.is_closed():
            info.append("polling" if self._polling() else "idle")
            bufsize = getattr(self, "_buffer", None)
            if bufsize is not None:
                info.append(f"bufsize={len(bufsize)}")
        elif self._pipe is not None:
            info.append("open")
        else:
            info.append("closed")
        return "<{}>".format(" ".join(info))

    def _polling(self) -> bool:
        return self._loop._has_reader(self._fileno)

    def __del__(self, _warn=warnings.warn) -> None:
        if self._pipe is not None:
            _warn(f"unclosed transport {self!r}", ResourceWarning, source=self)
            self._pipe.close()

    def _fatal_error(self, exc, message) -> None:
        # EIO from a pty whose other side closed is how a pty says end of stream.
        self._report_error(exc, message, isinstance(exc, OSError) and exc.errno == errno.EIO)
        self._close(exc)

    def _release(self) -> None:
        self._pipe.close()
        self._pipe = None
        self._loop = None


class ReadPipeTransport(_PipeTransportBase, transports.ReadTransport):
    """The read end of a pipe (asyncio's ``_UnixReadPipeTransport``)."""

    def __init__(self, loop, pipe, protocol, waiter=None, extra=None):
        super().__init__(extra)
        self._init_pipe(loop, pipe, protocol)
        self._paused = False
        mode = _mode(self._fileno)
        if not (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or stat.S_ISCHR(mode)):
            self._pipe = self._fileno = self._protocol = None
            raise ValueError("Pipe transport is for pipes/sockets only.")
        os.set_blocking(self._fileno, False)
        loop.call_soon(protocol.connection_made, self)
        loop.call_soon(self._start_reading)
        if waiter is not None:
            loop.call_soon(futures._set_result_unless_cancelled, waiter, None)

    def _start_reading(self) -> None:
        if self.is_reading():
            self._loop._add_reader(self._fileno, self._read_ready)

    def _read_ready(self) -> None:
        try:
            data = os.read(self._fileno, _MAX_READ)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._fatal_error(exc, "Fatal read error on pipe transport")
            return
        if data:
            self._protocol.data_received(data)
            return
        if self._loop.get_debug():
            logger.info("%r was closed by peer", self)
        self._closing = True
        self._loop._remove_reader(self._fileno)
        self._loop.call_soon(self._protocol.eof_received)
        self._loop.call_soon(self._call_connection_lost, None)

    def is_reading(self) -> bool:
        return not self._paused and not self._closing

    def pause_reading(self) -> None:
        if not self.is_reading():
            return
        self._paused = True
        self._loop._remove_reader(self._fileno)
        if self._loop.get_debug():
            logger.debug("%r pauses reading", self)

    def resume_reading(self) -> None:
        if self._closing or not self._paused:
            return
        self._paused = False
        self._loop._add_reader(self._fileno, self._read_ready)
        if self._loop.get_debug():
            logger.debug("%r resumes reading", self)

    def close(self) -> None:
        if not self._closing:
            self._close(None)

    def _close(self, exc) -> None:
        self._closing = True
        self._loop._remove_reader(self._fileno)
        self._loop.call_soon(self._call_connection_lost, exc)


class WritePipeTransport(_PipeTransportBase, FlowControl, transports.WriteTransport):
    """The write end of a pipe (asyncio's ``_UnixWritePipeTransport``)."""

    def __init__(self, loop, pipe, protocol, waiter=None, extra=None):
        super().__init__(extra)
        self._init_pipe(loop, pipe, protocol)
        self._buffer = bytearray()
        self._conn_lost = 0
        mode = _mode(self._fileno)
        is_char = stat.S_ISCHR(mode)
        is_fifo = stat.S_ISFIFO(mode)
        is_socket = stat.S_ISSOCK(mode)
        if not (is_char or is_fifo or is_socket):
            self._pipe = self._fileno = self._protocol = None
            raise ValueError("Pipe transport is only for pipes, sockets and character devices")
        os.set_blocking(self._fileno, False)
        loop.call_soon(protocol.connection_made, self)
        # The write end of a pipe or socket reports readable (an error) once the reader
        # has gone: that is how a closed peer is noticed without writing.
        if is_socket or is_fifo:
            loop.call_soon(loop._add_reader, self._fileno, self._read_ready)
        if waiter is not None:
            loop.call_soon(futures._set_result_unless_cancelled, waiter, None)

    def get_write_buffer_size(self) -> int:
        return len(self._buffer)

    def _polling(self) -> bool:
        return self._loop._has_writer(self._fileno)

    def _read_ready(self) -> None:
        if self._loop.get_debug():
            logger.info("%r was closed by peer", self)
        self._close(BrokenPipeError() if self._buffer else None)

    def write(self, data) -> None:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"data argument must be a bytes-like object, "
                            f"not {type(data).__name__!r}")
        if isinstance(data, bytearray):
            data = memoryview(data)
        if not data:
            return
        if self._conn_lost or self._closing:
            if self._conn_lost >= _LOG_THRESHOLD_FOR_CONNLOST_WRITES:
                logger.warning("pipe closed by peer or os.write(pipe, data) raised exception.")
            self._conn_lost += 1
            return
        if not self._buffer:
            try:
                n = os.write(self._fileno, data)
            except (BlockingIOError, InterruptedError):
                n = 0
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as exc:
                self._conn_lost += 1
                self._fatal_error(exc, "Fatal write error on pipe transport")
                return
            if n == len(data):
                return
            if n > 0:
                data = memoryview(data)[n:]
            self._loop._add_writer(self._fileno, self._write_ready)
        self._buffer += data
        self._maybe_pause_protocol()

    def _write_ready(self) -> None:
        try:
            n = os.write(self._fileno, self._buffer)
        except (BlockingIOError, InterruptedError):
            return
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._buffer.clear()
            self._conn_lost += 1
            self._loop._remove_writer(self._fileno)
            self._fatal_error(exc, "Fatal write error on pipe transport")
            return
        if n == len(self._buffer):
            self._buffer.clear()
            self._loop._remove_writer(self._fileno)
            self._maybe_resume_protocol()  # may write more
            if self._closing:
                self._loop._remove_reader(self._fileno)
                self._call_connection_lost(None)
        elif n > 0:
            del self._buffer[:n]

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        if self._closing:
            return
        self._closing = True
        if not self._buffer:
            self._loop._remove_reader(self._fileno)
            self._loop.call_soon(self._call_connection_lost, None)

    def close(self) -> None:
        if self._pipe is not None and not self._closing:
            self.write_eof()

    def abort(self) -> None:
        self._close(None)

    def _close(self, exc=None) -> None:
        self._closing = True
        if self._buffer:
            self._loop._remove_writer(self._fileno)
        self._buffer.clear()
        self._loop._remove_reader(self._fileno)
        self._loop.call_soon(self._call_connection_lost, exc)


class PipeMixin:
    def _make_read_pipe_transport(self, pipe, protocol, waiter=None, extra=None):
        return ReadPipeTransport(self, pipe, protocol, waiter, extra)

    def _make_write_pipe_transport(self, pipe, protocol, waiter=None, extra=None):
        return WritePipeTransport(self, pipe, protocol, waiter, extra)

    async def _connect_pipe(self, make, protocol_factory, pipe, what: str):
        protocol = protocol_factory()
        waiter = self.create_future()
        transport = make(pipe, protocol, waiter)
        try:
            await waiter
        except BaseException:
            transport.close()
            raise
        if self.get_debug():
            logger.debug("%s pipe %r connected: (%r, %r)", what, pipe.fileno(), transport,
                         protocol)
        return transport, protocol

    async def connect_read_pipe(self, protocol_factory, pipe):
        """Wrap the read end of a pipe (or FIFO, pty, socket) in a transport."""
        return await self._connect_pipe(self._make_read_pipe_transport, protocol_factory,
                                        pipe, "Read")

    async def connect_write_pipe(self, protocol_factory, pipe):
        """Wrap the write end of a pipe (or FIFO, pty, socket) in a transport."""
        return await self._connect_pipe(self._make_write_pipe_transport, protocol_factory,
                                        pipe, "Write")
