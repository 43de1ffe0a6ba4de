"""Stream socket transports: the Python face of the native ``StreamCore``.

``asyncio.BaseTransport`` declares ``__slots__ = ('_extra',)``, whose layout cannot be
combined with a native base class, so a transport is this thin ``asyncio.Transport``
subclass around a native core that owns the state and does the I/O. The hot methods
(``write``, ``writelines``) are the core's own bound methods, set on the instance, so a
write costs no Python frame. What stays here is construction, sendfile support and the
server bookkeeping (the shared parts are in ``base``).
"""

from __future__ import annotations

import functools
from asyncio import constants, transports

from .._aioxide import StreamCore
from .base import CoreReading, CoreWriting, SocketFace


class SocketTransport(SocketFace, CoreReading, CoreWriting, transports.Transport):
    """A connected TCP or Unix stream socket (asyncio's ``_SelectorSocketTransport``)."""

    _start_tls_compatible = True
    _sendfile_compatible = constants._SendfileMode.TRY_NATIVE

    def __init__(self, loop, sock, protocol, waiter=None, extra=None, server=None):
        self._extra = extra = {} if extra is None else extra
        self._loop = loop
        self._server = server
        # The server counts its connections natively (transport/server_clients.rs): the
        # transport is counted once its core exists, and uncounted when it is lost.
        clients = server._clients if server is not None else None
        on_lost = functools.partial(clients.detach, self) if clients is not None else None
        self._core = core = StreamCore(loop, sock, self, protocol, on_lost=on_lost)
        self._sock_fd = core.fd
        self._bind_hot_methods()
        if clients is not None:
            clients.attach(self)
        # The extra info, TCP_NODELAY, the loop's record that this transport owns the
        # descriptor, then connection_made, reading and the waiter on the next iteration
        # (transport/stream_open.rs).
        core._open(extra, waiter)

    # -- sendfile support (loop.sendfile) -------------------------------------------

    def _make_empty_waiter(self):
        return self._core._make_empty_waiter()

    def _reset_empty_waiter(self) -> None:
        self._core._reset_empty_waiter()

