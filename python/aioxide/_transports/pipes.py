"""Pipe transports (pipes, FIFOs, sockets and character devices such as ptys), with
asyncio's semantics: thin ``asyncio`` transport subclasses around a native
``StreamCore`` (``pipe=True``) that does the reads, the writes, the write buffer and
flow control. Subprocesses get their stdin/stdout/stderr through these.
"""

from __future__ import annotations

import stat
import warnings
from asyncio import futures, transports

from .._aioxide import StreamCore, fd_mode, set_nonblocking
from .base import CoreFace, CoreReading, CoreWriting


class _PipeTransport(CoreFace):
    """What both directions share: building the core, the pipe, repr, errors."""

    _fileno = None

    def _init_core(self, loop, pipe, protocol, allowed: bool, message: str):
        if not allowed:
            raise ValueError(message)
        self._extra["pipe"] = pipe
        self._loop = loop
        self._fileno = pipe.fileno()
        set_nonblocking(self._fileno)
        core = StreamCore(loop, pipe, self, protocol, pipe=True)
        self._core = core
        loop.call_soon(protocol.connection_made, self)
        return core

    @property
    def _pipe(self):
        return self._core.sock() if self._core is not None else None

    @_pipe.setter
    def _pipe(self, value) -> None:
        # asyncio's own tests set it to None once they closed the pipe themselves.
        if value is not None:
            raise ValueError("a pipe transport's pipe can only be forgotten (set to None)")
        if self._core is not None:
            self._core._forget_sock()

    def __repr__(self) -> str:
        info = [type(self).__name__]
        pipe = self._pipe
        if pipe is None:
            info.append("closed")
        elif self._core.is_closing():
            info.append("closing")
        info.append(f"fd={self._fileno}")
        if pipe is not None and not self._loop.is_closed():
            info.append("polling" if self._polling() else "idle")
            if isinstance(self, transports.WriteTransport):
                info.append(f"bufsize={self._core.get_write_buffer_size()}")
        elif pipe is not None:
            info.append("open")
        return "<{}>".format(" ".join(info))

    def __del__(self, _warn=warnings.warn) -> None:
        pipe = self._pipe
        if pipe is not None:
            _warn(f"unclosed transport {self!r}", ResourceWarning, source=self)
            pipe.close()


class ReadPipeTransport(_PipeTransport, CoreReading, transports.ReadTransport):
    """The read end of a pipe (asyncio's ``_UnixReadPipeTransport``)."""

    def __init__(self, loop, pipe, protocol, waiter=None, extra=None):
        super().__init__(extra)
        mode = fd_mode(pipe.fileno())
        allowed = stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or stat.S_ISCHR(mode)
        core = self._init_core(loop, pipe, protocol, allowed,
                               "Pipe transport is for pipes/sockets only.")
        loop.call_soon(core._start_reading)
        if waiter is not None:
            loop.call_soon(futures._set_result_unless_cancelled, waiter, None)

    def _polling(self) -> bool:
        return self._loop._has_reader(self._fileno)


class WritePipeTransport(_PipeTransport, CoreWriting, transports.Transport):
    """The write end of a pipe (asyncio's ``_UnixWritePipeTransport``). Like that class
    it is a whole ``Transport``: the reading methods raise ``NotImplementedError``."""

    def __init__(self, loop, pipe, protocol, waiter=None, extra=None):
        super().__init__(extra)
        mode = fd_mode(pipe.fileno())
        watch_peer = stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)
        allowed = watch_peer or stat.S_ISCHR(mode)
        core = self._init_core(loop, pipe, protocol, allowed,
                               "Pipe transport is only for pipes, sockets and character devices")
        self._bind_hot_methods()
        # The write end of a pipe or socket turns readable once the reader has gone.
        if watch_peer:
            loop.call_soon(core._watch_peer_close)
        if waiter is not None:
            loop.call_soon(futures._set_result_unless_cancelled, waiter, None)

    def _polling(self) -> bool:
        return self._loop._has_writer(self._fileno)
