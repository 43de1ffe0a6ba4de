"""``connect_read_pipe`` / ``connect_write_pipe``, with asyncio's semantics; the
transports are in ``_transports/pipes.py``.
"""

from __future__ import annotations

from asyncio.log import logger

from ._transports.pipes import ReadPipeTransport, WritePipeTransport


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
