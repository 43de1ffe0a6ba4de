"""TLS transports: the Python face of the native ``TLSCore`` record layer.

``ssl_protocol()`` checks the arguments as asyncio does, wraps the context around a
pair of ``ssl.MemoryBIO`` objects and builds the core, which is the protocol of the
transport underneath; ``SSLTransport`` is the transport the application sees. The
state machine (handshake, reads, writes, shutdown, flow control) is native
(``transport/tls.rs``); the application's ``write`` is the core's own bound method.
"""

from __future__ import annotations

import ssl
import warnings
from asyncio import constants, transports

from .._aioxide import TLSCore


def _default_context(server_side: bool, server_hostname) -> ssl.SSLContext:
    if server_side:
        raise ValueError("Server side SSL needs a valid SSLContext")
    context = ssl.create_default_context()
    if not server_hostname:
        context.check_hostname = False
    return context


def _timeout(value, default: float, name: str):
    if value is None:
        return default
    if value <= 0:
        raise ValueError(f"ssl_{name}_timeout should be a positive number, got {value}")
    return value


def ssl_protocol(loop, app_protocol, sslcontext, waiter, server_side=False,
                 server_hostname=None, *, call_connection_made=True,
                 ssl_handshake_timeout=None, ssl_shutdown_timeout=None,
                 received: bytes = b"") -> TLSCore:
    """The TLS layer for ``app_protocol`` (asyncio's ``SSLProtocol`` arguments); its
    ``_app_transport`` is the application's transport. ``received``: TLS bytes that
    arrived before the layer did (``start_tls`` on a stream with buffered data)."""
    handshake = _timeout(ssl_handshake_timeout, constants.SSL_HANDSHAKE_TIMEOUT, "handshake")
    shutdown = _timeout(ssl_shutdown_timeout, constants.SSL_SHUTDOWN_TIMEOUT, "shutdown")
    if not sslcontext:
        sslcontext = _default_context(server_side, server_hostname)
    if not server_hostname or server_side:
        server_hostname = None
    incoming = ssl.MemoryBIO()
    if received:
        incoming.write(received)
    outgoing = ssl.MemoryBIO()
    sslobj = sslcontext.wrap_bio(incoming, outgoing, server_side=server_side,
                                 server_hostname=server_hostname)
    core = TLSCore(loop, app_protocol, sslobj, incoming, outgoing,
                   {"sslcontext": sslcontext}, waiter, handshake, shutdown,
                   call_connection_made)
    core._set_app_transport(SSLTransport(loop, core))
    return core


class SSLTransport(transports.Transport):
    """A TLS connection (asyncio's ``_SSLProtocolTransport``)."""

    _start_tls_compatible = True
    _sendfile_compatible = constants._SendfileMode.FALLBACK

    def __init__(self, loop, core: TLSCore):
        super().__init__()
        self._loop = loop
        self._core = core
        # The hot methods are the core's own (no Python frame per call).
        self.write = core.write
        self.writelines = core.writelines
        self.get_extra_info = core.get_extra_info
        self.is_closing = core.is_closing

    @property
    def _ssl_protocol(self) -> TLSCore:
        return self._core

    @property
    def _closed(self) -> bool:
        return self._core is None or self._core.is_closing()

    @property
    def _protocol_paused(self) -> bool:
        return self._core.protocol_paused

    def __repr__(self) -> str:
        if self._core is None:
            return f"<{type(self).__name__} closed>"
        state = "closed" if self._core.is_closing() else "open"
        return f"<{type(self).__name__} {state} {self._core._state}>"

    def __del__(self, _warn=warnings.warn) -> None:
        core = getattr(self, "_core", None)
        if core is not None and core._face_deleted():
            _warn(f"unclosed transport {self!r}", ResourceWarning, source=self)

    def get_extra_info(self, name, default=None):
        return self._core.get_extra_info(name, default)

    def set_protocol(self, protocol) -> None:
        self._core.set_protocol(protocol)

    def get_protocol(self):
        return self._core.get_protocol()

    def is_closing(self) -> bool:
        return self._closed

    def close(self) -> None:
        if not self._closed:
            self._core.close()
            return
        # As asyncio's: closing a closed transport lets go of the TLS layer (and so of
        # its SSLContext), which an application protocol often keeps the transport of.
        self._core = None
        for name in ("write", "writelines", "get_extra_info", "is_closing"):
            self.__dict__.pop(name, None)

    def abort(self) -> None:
        self._core.abort()

    def _force_close(self, exc) -> None:
        self._core._force_close(exc)

    def is_reading(self) -> bool:
        return self._core.is_reading()

    def pause_reading(self) -> None:
        self._core.pause_reading()

    def resume_reading(self) -> None:
        self._core.resume_reading()

    def set_write_buffer_limits(self, high=None, low=None) -> None:
        self._core.set_write_buffer_limits(high, low)

    def get_write_buffer_limits(self):
        return self._core.get_write_buffer_limits()

    def get_write_buffer_size(self) -> int:
        return self._core.get_write_buffer_size()

    def set_read_buffer_limits(self, high=None, low=None) -> None:
        self._core.set_read_buffer_limits(high, low)

    def get_read_buffer_limits(self):
        return self._core.get_read_buffer_limits()

    def get_read_buffer_size(self) -> int:
        return self._core.get_read_buffer_size()

    def write(self, data) -> None:
        self._core.write(data)

    def writelines(self, list_of_data) -> None:
        self._core.writelines(list_of_data)

    def write_eof(self) -> None:
        self._core.write_eof()

    def can_write_eof(self) -> bool:
        return False

    def _test__append_write_backlog(self, data) -> None:
        self._core._test__append_write_backlog(data)
