"""Protocols shared by the transport and TLS tests: a recording protocol, a server
protocol factory that keeps what it made, and a position-dependent byte pattern."""

from __future__ import annotations

import asyncio


def pattern(n: int, seed: int = 0) -> bytes:
    """``n`` bytes whose content depends on the position, so reordering is detected."""
    block = bytes((i * 7 + seed) % 251 for i in range(251))
    reps = n // len(block) + 1
    return (block * reps)[:n]


class Recorder(asyncio.Protocol):
    """A protocol that records its callbacks and exposes futures for the milestones.

    ``events`` is the order of the callbacks: ``made``, ``data`` (consecutive calls
    folded into one), ``eof``, ``lost``. With ``echo=True`` it writes back what it
    receives. ``eof_result`` is what ``eof_received`` returns.
    """

    def __init__(self, loop, *, echo: bool = False, eof_result=None):
        self.loop = loop
        self.echo = echo
        self.eof_result = eof_result
        self.transport = None
        self.events: list[str] = []
        self.data = bytearray()
        self.data_types: set[type] = set()
        self.lost_calls = 0
        self.lost_exc = None
        self.made = loop.create_future()
        self.eof = loop.create_future()
        self.lost = loop.create_future()
        self._readers: list[tuple[int, asyncio.Future]] = []

    def connection_made(self, transport):
        self.transport = transport
        self.events.append("made")
        self.made.set_result(transport)

    def data_received(self, data):
        self.data_types.add(type(data))
        if not self.events or self.events[-1] != "data":
            self.events.append("data")
        self.data += data
        if self.echo:
            self.transport.write(data)
        self._wake()

    def eof_received(self):
        self.events.append("eof")
        if not self.eof.done():
            self.eof.set_result(None)
        self._wake(final=True)
        return self.eof_result

    def connection_lost(self, exc):
        self.events.append("lost")
        self.lost_calls += 1
        self.lost_exc = exc
        if not self.lost.done():
            self.lost.set_result(exc)
        self._wake(final=True)

    def _wake(self, final: bool = False):
        keep = []
        for n, fut in self._readers:
            if fut.done():
                continue
            if len(self.data) >= n:
                fut.set_result(bytes(self.data[:n]))
            elif final:
                fut.set_exception(ConnectionError(
                    f"stream ended after {len(self.data)} of {n} bytes"))
            else:
                keep.append((n, fut))
        self._readers = keep

    async def received(self, n: int) -> bytes:
        """Wait until at least ``n`` bytes have arrived; the first ``n`` bytes."""
        if len(self.data) >= n:
            return bytes(self.data[:n])
        if self.eof.done() or self.lost.done():
            raise ConnectionError(f"stream ended after {len(self.data)} of {n} bytes")
        fut = self.loop.create_future()
        self._readers.append((n, fut))
        return await fut


class Accepting:
    """A protocol factory for servers that keeps every protocol it made.

    ``await accepting.next()`` is the next connection's protocol, once its
    ``connection_made`` has run (for TLS: once the handshake is done);
    ``await accepting.all_lost()`` waits for every connection made so far to be lost.
    """

    def __init__(self, loop, protocol_cls=Recorder, **kwargs):
        self.loop = loop
        self.protocol_cls = protocol_cls
        self.kwargs = kwargs
        self.protocols: list = []
        self._queue: asyncio.Queue = asyncio.Queue()

    def __call__(self):
        proto = self.protocol_cls(self.loop, **self.kwargs)
        self.protocols.append(proto)
        proto.made.add_done_callback(lambda _f: self._queue.put_nowait(proto))
        return proto

    async def next(self):
        return await self._queue.get()

    async def all_lost(self):
        # a connection whose connection_made never ran (a failed TLS handshake) has no
        # connection_lost either
        await asyncio.gather(*(p.lost for p in self.protocols if p.made.done()))
