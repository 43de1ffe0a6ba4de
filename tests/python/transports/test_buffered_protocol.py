"""asyncio.BufferedProtocol on stream transports: get_buffer/buffer_updated."""

from __future__ import annotations

import asyncio
import hashlib
import socket

import pytest
from _transport_helpers import TIMEOUT, Recorder, pattern, run


class Buffered(asyncio.BufferedProtocol):
    """Receives into a small buffer of its own and keeps what arrives."""

    def __init__(self, loop, size=1000):
        self.loop = loop
        self.buf = bytearray(size)
        self.received = bytearray()
        self.events = []
        self.hints = []
        self.updates = []
        self.transport = None
        self.made = loop.create_future()
        self.eof = loop.create_future()
        self.lost = loop.create_future()
        self.lost_calls = 0
        self._want = None

    async def wait_received(self, n):
        if len(self.received) < n:
            self._want = (n, self.loop.create_future())
            await self._want[1]

    def connection_made(self, transport):
        self.transport = transport
        self.events.append("made")
        self.made.set_result(None)

    def get_buffer(self, sizehint):
        self.hints.append(sizehint)
        return self.buf

    def buffer_updated(self, nbytes):
        self.updates.append(nbytes)
        if not self.events or self.events[-1] != "data":
            self.events.append("data")
        self.received += self.buf[:nbytes]
        if self._want and len(self.received) >= self._want[0]:
            self._want[1].set_result(None)
            self._want = None

    def eof_received(self):
        self.events.append("eof")
        self.eof.set_result(None)

    def connection_lost(self, exc):
        self.events.append("lost")
        self.lost_calls += 1
        if not self.lost.done():
            self.lost.set_result(exc)


async def listener():
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(5)
    lsock.setblocking(False)
    return lsock


async def connect_buffered(loop, factory):
    lsock = await listener()
    tr, proto = await loop.create_connection(factory, *lsock.getsockname())
    peer, _ = await loop.sock_accept(lsock)
    peer.setblocking(False)
    lsock.close()
    return peer, tr, proto


def collect_contexts(loop):
    contexts = []
    loop.set_exception_handler(lambda _loop, ctx: contexts.append(ctx))
    return contexts


def test_large_transfer_through_a_small_buffer(loop):
    payload = pattern(4 * 1024 * 1024, seed=5)

    async def main():
        peer, tr, proto = await connect_buffered(loop, lambda: Buffered(loop, 1000))
        with peer:
            await loop.sock_sendall(peer, payload)
            peer.shutdown(socket.SHUT_WR)
            await asyncio.wait_for(proto.lost, TIMEOUT)
        assert len(proto.received) == len(payload)
        assert hashlib.sha256(proto.received).digest() == hashlib.sha256(payload).digest()
        assert all(0 < n <= 1000 for n in proto.updates)
        assert sum(proto.updates) == len(payload)
        assert all(isinstance(h, int) for h in proto.hints)
        assert proto.events == ["made", "data", "eof", "lost"]
        assert proto.lost_calls == 1

    run(loop, main())


def test_buffered_protocol_on_a_server(loop):
    payload = pattern(1024 * 1024, seed=9)

    async def main():
        protos = []

        def factory():
            protos.append(Buffered(loop, 4096))
            return protos[-1]

        server = await loop.create_server(factory, "127.0.0.1", 0)
        async with server:
            client = socket.socket()
            client.setblocking(False)
            with client:
                await loop.sock_connect(client, server.sockets[0].getsockname())
                await loop.sock_sendall(client, payload)
                client.shutdown(socket.SHUT_WR)
                # eof_received returns None: the server side closes
                assert await loop.sock_recv(client, 10) == b""
                await asyncio.wait_for(protos[0].lost, TIMEOUT)
        assert bytes(protos[0].received) == payload

    run(loop, main())


def test_buffered_protocol_memoryview_buffer(loop):
    class ViewBuffered(Buffered):
        def get_buffer(self, sizehint):
            super().get_buffer(sizehint)
            return memoryview(self.buf)[10:20]

        def buffer_updated(self, nbytes):
            self.updates.append(nbytes)
            self.received += self.buf[10:10 + nbytes]

    async def main():
        peer, tr, proto = await connect_buffered(loop, lambda: ViewBuffered(loop, 100))
        with peer:
            await loop.sock_sendall(peer, b"0123456789abcdefghij-and-more")
            peer.shutdown(socket.SHUT_WR)
            await asyncio.wait_for(proto.lost, TIMEOUT)
        assert bytes(proto.received) == b"0123456789abcdefghij-and-more"
        assert max(proto.updates) <= 10

    run(loop, main())


def test_empty_buffer_is_a_fatal_error(loop):
    class Empty(Buffered):
        def get_buffer(self, sizehint):
            return bytearray()

    async def main():
        contexts = collect_contexts(loop)
        peer, tr, proto = await connect_buffered(loop, lambda: Empty(loop))
        with peer:
            await loop.sock_sendall(peer, b"data")
            exc = await asyncio.wait_for(proto.lost, TIMEOUT)
        assert type(exc) is RuntimeError
        assert str(exc) == "get_buffer() returned an empty buffer"
        assert len(contexts) == 1
        ctx = contexts[0]
        assert ctx["message"] == "Fatal error: protocol.get_buffer() call failed."
        assert ctx["exception"] is exc
        assert ctx["transport"] is tr
        assert ctx["protocol"] is proto
        assert tr.is_closing()
        assert proto.lost_calls == 1

    run(loop, main())


def test_exception_in_get_buffer_is_fatal(loop):
    class Failing(Buffered):
        def get_buffer(self, sizehint):
            raise ZeroDivisionError("no buffer")

    async def main():
        contexts = collect_contexts(loop)
        peer, tr, proto = await connect_buffered(loop, lambda: Failing(loop))
        with peer:
            await loop.sock_sendall(peer, b"data")
            exc = await asyncio.wait_for(proto.lost, TIMEOUT)
            # the transport closed its socket (with unread data: a reset)
            try:
                assert await loop.sock_recv(peer, 10) == b""
            except ConnectionResetError:
                pass
        assert isinstance(exc, ZeroDivisionError)
        assert [c["message"] for c in contexts] == [
            "Fatal error: protocol.get_buffer() call failed."]
        assert contexts[0]["exception"] is exc

    run(loop, main())


@pytest.mark.parametrize(
    "make",
    [
        lambda: b"read-only bytes",
        lambda: memoryview(b"read-only view"),
        lambda: memoryview(bytearray(20))[::2],
        lambda: "text",
    ],
    ids=["bytes", "readonly-view", "strided-view", "str"],
)
def test_a_buffer_that_cannot_be_read_into_is_a_fatal_read_error(loop, make):
    # asyncio's sock.recv_into(buf) refuses it with a TypeError.
    buffer = make()

    class Unwritable(Buffered):
        def get_buffer(self, sizehint):
            return buffer

    async def main():
        contexts = collect_contexts(loop)
        peer, tr, proto = await connect_buffered(loop, lambda: Unwritable(loop))
        with peer:
            await loop.sock_sendall(peer, b"data")
            exc = await asyncio.wait_for(proto.lost, TIMEOUT)
        assert type(exc) is TypeError
        assert str(exc) == (
            "recv_into() argument 1 must be read-write bytes-like object, "
            f"not {type(buffer).__name__}"
        )
        assert [c["message"] for c in contexts] == ["Fatal read error on socket transport"]
        assert contexts[0]["exception"] is exc
        assert proto.lost_calls == 1

    run(loop, main())


def test_exception_in_buffer_updated_is_fatal(loop):
    class Failing(Buffered):
        def buffer_updated(self, nbytes):
            super().buffer_updated(nbytes)
            raise ZeroDivisionError("updated")

    async def main():
        contexts = collect_contexts(loop)
        peer, tr, proto = await connect_buffered(loop, lambda: Failing(loop))
        with peer:
            await loop.sock_sendall(peer, b"data")
            exc = await asyncio.wait_for(proto.lost, TIMEOUT)
        assert isinstance(exc, ZeroDivisionError)
        assert bytes(proto.received) == b"data"
        assert [c["message"] for c in contexts] == [
            "Fatal error: protocol.buffer_updated() call failed."]
        assert proto.lost_calls == 1

    run(loop, main())


def test_eof_received_true_keeps_buffered_transport_open(loop):
    class KeepOpen(Buffered):
        def eof_received(self):
            super().eof_received()
            self.transport.write(b"got " + bytes(self.received))
            self.transport.close()
            return True

    async def main():
        peer, tr, proto = await connect_buffered(loop, lambda: KeepOpen(loop))
        with peer:
            await loop.sock_sendall(peer, b"abc")
            peer.shutdown(socket.SHUT_WR)
            chunks = []
            while chunk := await loop.sock_recv(peer, 100):
                chunks.append(chunk)
            assert b"".join(chunks) == b"got abc"
            assert await asyncio.wait_for(proto.lost, TIMEOUT) is None

    run(loop, main())


def test_switching_between_protocol_kinds(loop):
    async def main():
        peer, tr, first = await connect_buffered(loop, lambda: Recorder(loop))
        with peer:
            await loop.sock_sendall(peer, b"plain")
            assert await first.received(5) == b"plain"
            second = Buffered(loop, 7)
            tr.set_protocol(second)
            assert tr.get_protocol() is second
            await loop.sock_sendall(peer, b"buffered data")
            peer.shutdown(socket.SHUT_WR)
            assert await asyncio.wait_for(second.lost, TIMEOUT) is None
            assert bytes(second.received) == b"buffered data"
            assert bytes(first.data) == b"plain"
            assert max(second.updates) <= 7

        # and back: a plain protocol after a buffered one
        peer, tr, first = await connect_buffered(loop, lambda: Buffered(loop, 5))
        with peer:
            await loop.sock_sendall(peer, b"12345")
            await asyncio.wait_for(first.wait_received(5), TIMEOUT)
            second = Recorder(loop)
            tr.set_protocol(second)
            await loop.sock_sendall(peer, b"plain again")
            peer.shutdown(socket.SHUT_WR)
            assert await asyncio.wait_for(second.lost, TIMEOUT) is None
            assert bytes(second.data) == b"plain again"
            assert bytes(first.received) == b"12345"

    run(loop, main())

