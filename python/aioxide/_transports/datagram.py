"""The datagram transport: the Python face of a native ``DatagramCore`` (which reads
each datagram into a reused buffer and builds the sender's address in Rust, instead of
``socket.recvfrom(256 KiB)``'s allocation per datagram).
"""

from __future__ import annotations

from asyncio import futures, transports

from .._aioxide import DatagramCore, socket_extra
from .base import CoreBuffer, CoreReading, SocketFace


class DatagramTransport(SocketFace, CoreReading, CoreBuffer, transports.Transport,
                        transports.DatagramTransport):
    """A UDP or Unix datagram socket (asyncio's ``_SelectorDatagramTransport``, which is
    an ``asyncio.Transport`` too)."""

    def __init__(self, loop, sock, protocol, address=None, waiter=None, extra=None):
        super().__init__(extra)
        socket_extra(self._extra, sock)
        self._loop = loop
        self._sock_fd = sock.fileno()
        self._address = address
        core = DatagramCore(loop, sock, self, protocol, address,
                            connected=bool(self._extra["peername"]))
        self._core = core
        # Hot methods: the core's own bound methods, no Python frame per call.
        self.sendto = core.sendto
        self.get_write_buffer_size = core.get_write_buffer_size
        loop._transports[self._sock_fd] = self
        loop.call_soon(protocol.connection_made, self)
        loop.call_soon(core._start_reading)
        if waiter is not None:
            loop.call_soon(futures._set_result_unless_cancelled, waiter, None)

    def sendto(self, data, addr=None) -> None:
        self._core.sendto(data, addr)
