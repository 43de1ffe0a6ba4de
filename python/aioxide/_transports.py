"""Stream socket transports: the Python face of the native ``StreamCore``.

``asyncio.BaseTransport`` declares ``__slots__ = ('_extra',)``, whose layout cannot be
combined with a native base class, so a transport is this thin ``asyncio.Transport``
subclass around a native core that owns the state and does the I/O. The hot methods
(``write``, ``writelines``) are the core's own bound methods, set on the instance, so a
write costs no Python frame. What stays here is rare: construction, error reporting,
``repr`` and the server bookkeeping.
"""

from __future__ import annotations

import warnings
from asyncio import base_events, constants, futures, transports, trsock

from ._aioxide import StreamCore
from ._core_transport import CoreFace, CoreReading, CoreWriting


class SocketTransport(CoreFace, CoreReading, CoreWriting, transports.Transport):
    """A connected TCP or Unix stream socket (asyncio's ``_SelectorSocketTransport``)."""

    _start_tls_compatible = True
    _sendfile_compatible = constants._SendfileMode.TRY_NATIVE

    def __init__(self, loop, sock, protocol, waiter=None, extra=None, server=None):
        super().__init__(extra)
        self._extra["socket"] = trsock.TransportSocket(sock)
        try:
            self._extra["sockname"] = sock.getsockname()
        except OSError:
            self._extra["sockname"] = None
        if "peername" not in self._extra:
            try:
                self._extra["peername"] = sock.getpeername()
            except OSError:
                self._extra["peername"] = None
        self._loop = loop
        self._sock_fd = sock.fileno()
        self._server = server
        core = StreamCore(loop, sock, self, protocol)
        self._core = core
        self._bind_hot_methods()
        if server is not None:
            server._attach(self)
        loop._transports[self._sock_fd] = self
        base_events._set_nodelay(sock)
        loop.call_soon(protocol.connection_made, self)
        loop.call_soon(core._start_reading)
        if waiter is not None:
            loop.call_soon(futures._set_result_unless_cancelled, waiter, None)

    # -- state, for repr and for code that reads asyncio's attribute names ----------

    @property
    def _sock(self):
        return self._core.sock()

    @property
    def _protocol_paused(self):
        return self._core.protocol_paused

    def __repr__(self) -> str:
        info = [type(self).__name__]
        core = self._core
        if core.sock() is None:
            info.append("closed")
        elif core.is_closing():
            info.append("closing")
        info.append(f"fd={self._sock_fd}")
        if not self._loop.is_closed() and core.sock() is not None:
            reading = self._loop._has_reader(self._sock_fd)
            info.append("read=polling" if reading else "read=idle")
            state = "polling" if core.is_writing() else "idle"
            info.append(f"write=<{state}, bufsize={core.get_write_buffer_size()}>")
        return "<{}>".format(" ".join(info))

    def __del__(self, _warn=warnings.warn) -> None:
        core = self.__dict__.get("_core")
        sock = core.sock() if core is not None else None
        if sock is not None:
            _warn(f"unclosed transport {self!r}", ResourceWarning, source=self)
            sock.close()

    def _detach_server(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server._detach(self)

    # -- sendfile support (loop.sendfile) -------------------------------------------

    def _make_empty_waiter(self):
        return self._core._make_empty_waiter()

    def _reset_empty_waiter(self) -> None:
        self._core._reset_empty_waiter()

