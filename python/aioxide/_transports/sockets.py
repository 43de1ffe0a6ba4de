"""Stream socket transports: the Python face of the native ``StreamCore``.

``asyncio.BaseTransport`` declares ``__slots__ = ('_extra',)``, whose layout cannot be
combined with a native base class, so a transport is this thin ``asyncio.Transport``
subclass around a native core that owns the state and does the I/O. The hot methods
(``write``, ``writelines``) are the core's own bound methods, set on the instance, so a
write costs no Python frame. What stays here is construction, sendfile support and the
server bookkeeping (the shared parts are in ``base``).
"""

from __future__ import annotations

from asyncio import constants, futures, transports, trsock

from .._aioxide import StreamCore
from .._socket_fast import set_nodelay
from .base import CoreReading, CoreWriting, SocketFace


class SocketTransport(SocketFace, CoreReading, CoreWriting, transports.Transport):
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
        on_lost = self._detach_server if server is not None else None
        core = StreamCore(loop, sock, self, protocol, on_lost=on_lost)
        self._core = core
        self._bind_hot_methods()
        if server is not None:
            server._attach(self)
        loop._transports[self._sock_fd] = self
        set_nodelay(sock)
        loop.call_soon(protocol.connection_made, self)
        loop.call_soon(core._start_reading)
        if waiter is not None:
            loop.call_soon(futures._set_result_unless_cancelled, waiter, None)

    def _detach_server(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server._detach(self)

    # -- sendfile support (loop.sendfile) -------------------------------------------

    def _make_empty_waiter(self):
        return self._core._make_empty_waiter()

    def _reset_empty_waiter(self) -> None:
        self._core._reset_empty_waiter()

