"""What the Python transports (datagram, pipes) share: the protocol accessors, the
closing flag, how a fatal error is reported, and the final ``connection_lost``.
(Stream sockets do all of this natively.)"""

from __future__ import annotations

from asyncio.log import logger


class TransportBasics:
    """Mixed in ahead of ``asyncio.BaseTransport``; the transport has ``_loop``,
    ``_protocol`` and ``_closing``, and defines ``_release()``: what it closes last,
    after ``connection_lost`` (the datagram socket, the pipe)."""

    _closing = False

    def get_protocol(self):
        return self._protocol

    def set_protocol(self, protocol) -> None:
        self._protocol = protocol

    def is_closing(self) -> bool:
        return self._closing

    def _report_error(self, exc, message: str, expected: bool) -> None:
        """An ``expected`` error (the peer went away) is only logged in debug mode;
        anything else goes to the loop's exception handler, as asyncio does."""
        if expected:
            if self._loop.get_debug():
                logger.debug("%r: %s", self, message, exc_info=True)
        else:
            self._loop.call_exception_handler({
                "message": message, "exception": exc,
                "transport": self, "protocol": self._protocol,
            })

    def _call_connection_lost(self, exc) -> None:
        try:
            self._protocol.connection_lost(exc)
        finally:
            self._release()
            self._protocol = None
