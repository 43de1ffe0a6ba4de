"""The stream transport API: write, EOF, close/abort, extra info, reading, protocols."""

from __future__ import annotations

import asyncio
import os
import socket

import pytest
from _transport_helpers import (
    TIMEOUT,
    Accepting,
    Recorder,
    close_and_wait,
    pattern,
    run,
    tcp_server,
)


async def connect(loop, addr, **kwargs):
    return await loop.create_connection(lambda: Recorder(loop, **kwargs), *addr)


async def raw_peer(loop):
    """A listening raw socket; returns ``(listener, address)``."""
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(5)
    lsock.setblocking(False)
    return lsock, lsock.getsockname()


async def recv_until_eof(loop, sock):
    chunks = []
    while True:
        chunk = await loop.sock_recv(sock, 1 << 16)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


async def recv_exactly(loop, sock, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = await loop.sock_recv(sock, n - len(buf))
        assert chunk, f"EOF after {len(buf)} of {n} bytes"
        buf += chunk
    return bytes(buf)


async def connected_to_raw(loop, **kwargs):
    """A transport connected to a raw socket: ``(listener, peer_sock, transport, proto)``."""
    lsock, addr = await raw_peer(loop)
    tr, proto = await connect(loop, addr, **kwargs)
    peer, _ = await loop.sock_accept(lsock)
    peer.setblocking(False)
    return lsock, peer, tr, proto


# -- types and extra info ------------------------------------------------------------------


def test_transports_are_transport_instances(loop):
    async def main():
        async with tcp_server(loop) as (server, addr, accepting):
            tr, proto = await connect(loop, addr)
            peer = await accepting.next()
            for transport in (tr, peer.transport):
                assert isinstance(transport, asyncio.Transport)
                assert isinstance(transport, asyncio.ReadTransport)
                assert isinstance(transport, asyncio.WriteTransport)
                assert isinstance(transport, asyncio.BaseTransport)
                assert not isinstance(transport, asyncio.DatagramTransport)
            await close_and_wait(proto)

    run(loop, main())


def test_get_extra_info(loop):
    async def main():
        async with tcp_server(loop) as (server, addr, accepting):
            tr, proto = await connect(loop, addr)
            sock = tr.get_extra_info("socket")
            assert sock.family == socket.AF_INET
            assert sock.type == socket.SOCK_STREAM
            assert sock.fileno() >= 0
            assert sock.getsockname() == tr.get_extra_info("sockname")
            assert sock.getpeername() == addr == tr.get_extra_info("peername")
            assert tr.get_extra_info("sockname")[0] == "127.0.0.1"
            assert tr.get_extra_info("no-such-key") is None
            marker = object()
            assert tr.get_extra_info("no-such-key", marker) is marker
            assert tr.get_extra_info("peername", marker) == addr

            peer = await accepting.next()
            ptr = peer.transport
            assert ptr.get_extra_info("peername") == tr.get_extra_info("sockname")
            assert ptr.get_extra_info("sockname") == addr
            assert ptr.get_extra_info("socket").getsockname() == addr

            await close_and_wait(proto)
            # the addresses stay known after the connection is gone
            assert tr.get_extra_info("peername") == addr

    run(loop, main())


def _has_ipv6() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.parametrize("family", ["inet", "inet6", "unix"])
def test_accepted_and_connected_sockets(loop, family, tmp_path):
    """Both ends' sockets: non-blocking and not inherited at the OS level, the kind of
    the listener, and the addresses socket.accept() gives (an unnamed Unix peer: '')."""
    if family == "inet6" and not _has_ipv6():
        pytest.skip("no IPv6 loopback")

    async def main():
        accepting = Accepting(loop)
        if family == "unix":
            path = str(tmp_path / "s")
            server = await loop.create_unix_server(accepting, path)
            tr, proto = await loop.create_unix_connection(lambda: Recorder(loop), path)
        else:
            host = "::1" if family == "inet6" else "127.0.0.1"
            server = await loop.create_server(accepting, host, 0)
            addr = server.sockets[0].getsockname()
            tr, proto = await loop.create_connection(lambda: Recorder(loop), *addr[:2])
        try:
            peer = await accepting.next()
            listener = server.sockets[0]
            for t in (tr, peer.transport):
                sock = t.get_extra_info("socket")
                assert not os.get_blocking(sock.fileno())
                assert not os.get_inheritable(sock.fileno())
                assert (sock.family, sock.type) == (listener.family, listener.type)
            ptr = peer.transport
            assert ptr.get_extra_info("peername") == tr.get_extra_info("sockname")
            assert ptr.get_extra_info("sockname") == tr.get_extra_info("peername")
            assert ptr.get_extra_info("socket").proto == listener.proto
            if family == "unix":
                assert ptr.get_extra_info("peername") == ""
            tr.write(b"ping")
            assert await peer.received(4) == b"ping"
            await close_and_wait(proto)
        finally:
            server.close()
            await server.wait_closed()

    run(loop, main())


def test_data_received_gets_bytes(loop):
    async def main():
        async with tcp_server(loop) as (server, addr, accepting):
            tr, proto = await connect(loop, addr)
            tr.write(bytearray(b"abc"))
            tr.write(memoryview(b"defg"))
            tr.write(b"h")
            assert await proto.received(8) == b"abcdefgh"
            assert proto.data_types == {bytes}
            peer = await accepting.next()
            assert peer.data_types == {bytes}
            await close_and_wait(proto)

    run(loop, main())


# -- writing -------------------------------------------------------------------------------


def test_write_and_writelines(loop):
    async def main():
        async with tcp_server(loop) as (server, addr, _):
            tr, proto = await connect(loop, addr)
            tr.write(b"")  # nothing to send
            tr.writelines([b"one ", bytearray(b"two "), memoryview(b"three")])
            tr.writelines([])
            tr.write(b"!")
            assert await proto.received(14) == b"one two three!"
            assert tr.get_write_buffer_size() == 0
            await close_and_wait(proto)

    run(loop, main())


def stdlib_write_error(bad) -> str:
    """What the stdlib's socket transport says of ``write(bad)`` on this Python (the text
    changed in 3.13.x and 3.14)."""
    ref = asyncio.new_event_loop()
    a, b = socket.socketpair()
    tr = ref._make_socket_transport(a, asyncio.Protocol())
    try:
        with pytest.raises(TypeError) as info:
            tr.write(bad)
        assert f"not {type(bad).__name__!r}" in str(info.value)
        return str(info.value)
    finally:
        tr.close()
        ref.run_until_complete(asyncio.sleep(0))
        ref.close()
        b.close()


@pytest.mark.parametrize("bad", ["text", 42, None, [b"list"]], ids=["str", "int", "None", "list"])
def test_write_rejects_non_bytes(loop, bad):
    expected = stdlib_write_error(bad)

    async def main():
        async with tcp_server(loop) as (server, addr, _):
            tr, proto = await connect(loop, addr)
            with pytest.raises(TypeError) as info:
                tr.write(bad)
            assert str(info.value) == expected
            # the transport is still usable
            tr.write(b"ok")
            assert await proto.received(2) == b"ok"
            await close_and_wait(proto)

    run(loop, main())


def test_write_after_write_eof(loop):
    async def main():
        async with tcp_server(loop) as (server, addr, _):
            tr, proto = await connect(loop, addr, eof_result=True)
            assert tr.can_write_eof() is True
            tr.write(b"last")
            tr.write_eof()
            tr.write_eof()  # a second call does nothing
            with pytest.raises(RuntimeError) as info:
                tr.write(b"more")
            assert str(info.value) == "Cannot call write() after write_eof()"
            # the echo server sends back what it got, then closes on our EOF
            assert await proto.received(4) == b"last"
            await asyncio.wait_for(proto.eof, TIMEOUT)
            tr.close()
            assert await asyncio.wait_for(proto.lost, TIMEOUT) is None

    run(loop, main())


def test_large_write_is_delivered_in_order(loop):
    async def main():
        lsock, peer, tr, proto = await connected_to_raw(loop)
        with lsock, peer:
            payload = pattern(8 * 1024 * 1024)
            tr.write(payload)
            tr.write_eof()
            assert await recv_until_eof(loop, peer) == payload
            tr.close()
            await asyncio.wait_for(proto.lost, TIMEOUT)

    run(loop, main())


# -- protocol callbacks --------------------------------------------------------------------


def test_callback_order_when_peer_closes(loop):
    async def main():
        lsock, peer, tr, proto = await connected_to_raw(loop)
        with lsock:
            await loop.sock_sendall(peer, b"hello")
            peer.close()
            assert await asyncio.wait_for(proto.lost, TIMEOUT) is None
            assert proto.events == ["made", "data", "eof", "lost"]
            assert bytes(proto.data) == b"hello"
            assert proto.lost_calls == 1
            assert tr.is_closing()

    run(loop, main())


def test_callback_order_when_we_close(loop):
    async def main():
        lsock, peer, tr, proto = await connected_to_raw(loop)
        with lsock, peer:
            await loop.sock_sendall(peer, b"x")
            await proto.received(1)
            tr.close()
            assert tr.is_closing()
            tr.close()  # idempotent
            assert await asyncio.wait_for(proto.lost, TIMEOUT) is None
            assert proto.events == ["made", "data", "lost"]
            assert proto.lost_calls == 1
            assert await recv_until_eof(loop, peer) == b""

    run(loop, main())


def test_close_flushes_the_write_buffer(loop):
    async def main():
        lsock, peer, tr, proto = await connected_to_raw(loop)
        with lsock, peer:
            payload = pattern(16 * 1024 * 1024, seed=3)
            tr.write(payload)
            tr.close()
            assert tr.is_closing()
            assert not proto.lost.done()
            # connection_lost comes only once everything was sent
            assert await recv_until_eof(loop, peer) == payload
            assert await asyncio.wait_for(proto.lost, TIMEOUT) is None
            assert proto.lost_calls == 1

    run(loop, main())


def test_abort_drops_the_write_buffer(loop):
    async def main():
        lsock, peer, tr, proto = await connected_to_raw(loop)
        with lsock, peer:
            tr.set_write_buffer_limits(high=1 << 30)
            payload = pattern(32 * 1024 * 1024)
            tr.write(payload)
            assert tr.get_write_buffer_size() > 0
            tr.abort()
            assert tr.is_closing()
            assert tr.get_write_buffer_size() == 0
            assert await asyncio.wait_for(proto.lost, TIMEOUT) is None
            tr.abort()
            tr.close()
            received = await recv_until_eof(loop, peer)
            assert len(received) < len(payload)
            assert payload.startswith(received)
            assert proto.lost_calls == 1

    run(loop, main())


def test_eof_received_false_closes(loop):
    async def main():
        async with tcp_server(loop, Accepting(loop, eof_result=False)) as (server, addr, acc):
            sock = socket.socket()
            sock.setblocking(False)
            with sock:
                await loop.sock_connect(sock, addr)
                peer = await acc.next()
                await loop.sock_sendall(sock, b"bye")
                sock.shutdown(socket.SHUT_WR)
                assert await asyncio.wait_for(peer.lost, TIMEOUT) is None
                assert peer.events == ["made", "data", "eof", "lost"]
                assert peer.transport.is_closing()
                assert await recv_until_eof(loop, sock) == b""

    run(loop, main())


def test_eof_received_true_keeps_the_write_side_open(loop):
    class Responder(Recorder):
        def eof_received(self):
            super().eof_received()
            self.loop.call_soon(self.respond)
            return True

        def respond(self):
            self.open_after_eof = not self.transport.is_closing()
            self.transport.write(b"response to " + bytes(self.data))
            self.transport.close()

    async def main():
        acc = Accepting(loop, protocol_cls=Responder)
        async with tcp_server(loop, acc) as (server, addr, _):
            sock = socket.socket()
            sock.setblocking(False)
            with sock:
                await loop.sock_connect(sock, addr)
                await loop.sock_sendall(sock, b"request")
                sock.shutdown(socket.SHUT_WR)
                assert await recv_until_eof(loop, sock) == b"response to request"
                peer = acc.protocols[0]
                assert await asyncio.wait_for(peer.lost, TIMEOUT) is None
                assert peer.open_after_eof is True
                assert peer.events == ["made", "data", "eof", "lost"]

    run(loop, main())


def test_half_close_in_both_directions(loop):
    class Server(Recorder):
        def eof_received(self):
            super().eof_received()
            self.transport.write(b"pong:" + bytes(self.data))
            self.transport.write_eof()
            self.closing_after_write_eof = self.transport.is_closing()
            # the read side got EOF, the write side is shut: nothing left but closing
            self.loop.call_soon(self.transport.close)
            return True

    class Client(Recorder):
        def eof_received(self):
            super().eof_received()
            self.transport.close()
            return True

    async def main():
        acc = Accepting(loop, protocol_cls=Server)
        async with tcp_server(loop, acc) as (server, addr, _):
            tr, proto = await loop.create_connection(lambda: Client(loop), *addr)
            tr.write(b"ping")
            tr.write_eof()
            assert await asyncio.wait_for(proto.lost, TIMEOUT) is None
            assert bytes(proto.data) == b"pong:ping"
            assert proto.events == ["made", "data", "eof", "lost"]
            peer = acc.protocols[0]
            assert await asyncio.wait_for(peer.lost, TIMEOUT) is None
            assert peer.closing_after_write_eof is False
            assert peer.events == ["made", "data", "eof", "lost"]

    run(loop, main())


def test_exception_in_data_received_is_fatal(loop):
    class Bad(Recorder):
        def data_received(self, data):
            super().data_received(data)
            raise ZeroDivisionError("boom")

    async def main():
        contexts = []
        loop.set_exception_handler(lambda _loop, ctx: contexts.append(ctx))
        lsock, addr = await raw_peer(loop)
        with lsock:
            tr, proto = await loop.create_connection(lambda: Bad(loop), *addr)
            peer, _ = await loop.sock_accept(lsock)
            with peer:
                await loop.sock_sendall(peer, b"x")
                exc = await asyncio.wait_for(proto.lost, TIMEOUT)
                assert isinstance(exc, ZeroDivisionError)
                assert len(contexts) == 1
                assert contexts[0]["message"] == (
                    "Fatal error: protocol.data_received() call failed.")
                assert contexts[0]["exception"] is exc
                assert contexts[0]["transport"] is tr
                assert contexts[0]["protocol"] is proto
                assert proto.lost_calls == 1

    run(loop, main())


def test_exception_in_eof_received_is_fatal(loop):
    class Bad(Recorder):
        def eof_received(self):
            super().eof_received()
            raise ZeroDivisionError("eof")

    async def main():
        contexts = []
        loop.set_exception_handler(lambda _loop, ctx: contexts.append(ctx))
        lsock, addr = await raw_peer(loop)
        with lsock:
            tr, proto = await loop.create_connection(lambda: Bad(loop), *addr)
            peer, _ = await loop.sock_accept(lsock)
            peer.close()
            exc = await asyncio.wait_for(proto.lost, TIMEOUT)
            assert isinstance(exc, ZeroDivisionError)
            assert [c["message"] for c in contexts] == [
                "Fatal error: protocol.eof_received() call failed."]

    run(loop, main())


# -- reading -------------------------------------------------------------------------------


def test_pause_and_resume_reading(loop):
    async def main():
        lsock, peer, tr, proto = await connected_to_raw(loop)
        with lsock, peer:
            assert tr.is_reading()
            tr.pause_reading()
            assert not tr.is_reading()
            tr.pause_reading()  # no-op
            await loop.sock_sendall(peer, b"while paused")
            peer.shutdown(socket.SHUT_WR)
            # give the loop a moment: nothing may arrive while paused
            await asyncio.sleep(0.1)
            assert bytes(proto.data) == b""
            assert proto.events == ["made"]
            tr.resume_reading()
            assert tr.is_reading()
            tr.resume_reading()  # no-op
            assert await proto.received(12) == b"while paused"
            await asyncio.wait_for(proto.lost, TIMEOUT)
            assert proto.events == ["made", "data", "eof", "lost"]
            assert not tr.is_reading()

    run(loop, main())


def test_is_reading_false_after_close(loop):
    async def main():
        lsock, peer, tr, proto = await connected_to_raw(loop)
        with lsock, peer:
            tr.close()
            assert not tr.is_reading()
            tr.resume_reading()  # ignored on a closing transport
            assert not tr.is_reading()
            await asyncio.wait_for(proto.lost, TIMEOUT)

    run(loop, main())


def test_set_protocol_switches_the_receiver(loop):
    async def main():
        lsock, peer, tr, first = await connected_to_raw(loop)
        with lsock, peer:
            assert tr.get_protocol() is first
            await loop.sock_sendall(peer, b"one")
            assert await first.received(3) == b"one"
            second = Recorder(loop)
            tr.set_protocol(second)
            assert tr.get_protocol() is second
            await loop.sock_sendall(peer, b"two")
            assert await second.received(3) == b"two"
            peer.close()
            assert await asyncio.wait_for(second.lost, TIMEOUT) is None
            assert bytes(first.data) == b"one"
            assert first.events == ["made", "data"]
            assert second.events == ["data", "eof", "lost"]  # no connection_made

    run(loop, main())


def test_protocol_without_data_received_is_a_fatal_error(loop):
    class NoData:
        def __init__(self):
            self.lost = loop.create_future()

        def connection_lost(self, exc):
            self.lost.set_result(exc)

    async def main():
        contexts = []
        loop.set_exception_handler(lambda _loop, ctx: contexts.append(ctx))
        lsock, peer, tr, first = await connected_to_raw(loop)
        with lsock, peer:
            second = NoData()
            tr.set_protocol(second)
            await loop.sock_sendall(peer, b"data")
            exc = await asyncio.wait_for(second.lost, TIMEOUT)
        assert type(exc) is AttributeError
        assert str(exc) == "'NoData' object has no attribute 'data_received'"
        assert [c["message"] for c in contexts] == [
            "Fatal error: protocol.data_received() call failed."
        ]

    run(loop, main())


def test_writing_a_strided_memoryview_is_a_fatal_write_error(loop):
    # asyncio's sock.send() refuses a buffer that is not C-contiguous.
    async def main():
        contexts = []
        loop.set_exception_handler(lambda _loop, ctx: contexts.append(ctx))
        lsock, peer, tr, proto = await connected_to_raw(loop)
        with lsock, peer:
            tr.write(memoryview(b"abcdef")[::2])
            exc = await asyncio.wait_for(proto.lost, TIMEOUT)
            assert await loop.sock_recv(peer, 10) == b""
        assert type(exc) is BufferError
        assert str(exc) == "memoryview: underlying buffer is not C-contiguous"
        assert [c["message"] for c in contexts] == ["Fatal write error on socket transport"]

    run(loop, main())


# -- write buffer limits -------------------------------------------------------------------


def test_write_buffer_limits(loop):
    async def main():
        lsock, peer, tr, proto = await connected_to_raw(loop)
        with lsock, peer:
            assert tr.get_write_buffer_limits() == (16384, 65536)
            assert tr.get_write_buffer_size() == 0
            tr.set_write_buffer_limits(high=100)
            assert tr.get_write_buffer_limits() == (25, 100)
            tr.set_write_buffer_limits(low=10)
            assert tr.get_write_buffer_limits() == (10, 40)
            tr.set_write_buffer_limits(high=50, low=50)
            assert tr.get_write_buffer_limits() == (50, 50)
            tr.set_write_buffer_limits(high=0, low=0)
            assert tr.get_write_buffer_limits() == (0, 0)
            tr.set_write_buffer_limits()
            assert tr.get_write_buffer_limits() == (16384, 65536)
            with pytest.raises(ValueError) as info:
                tr.set_write_buffer_limits(high=10, low=20)
            assert str(info.value) == "high (10) must be >= low (20) must be >= 0"
            with pytest.raises(ValueError) as info:
                tr.set_write_buffer_limits(high=10, low=-1)
            assert str(info.value) == "high (10) must be >= low (-1) must be >= 0"
            assert tr.get_write_buffer_limits() == (16384, 65536)
            await close_and_wait(proto)

    run(loop, main())


def test_write_buffer_limits_take_any_number_as_asyncio_does(loop):
    # asyncio only compares the marks with sizes: floats and ints beyond 64 bits are
    # accepted (aioxide stores them rounded down, which compares the same with sizes);
    # wrong types and bad values raise what asyncio raises.
    async def main():
        lsock, peer, tr, proto = await connected_to_raw(loop)
        with lsock, peer:
            def limits():
                return tuple(int(mark) for mark in tr.get_write_buffer_limits())

            tr.set_write_buffer_limits(high=2500.0, low=100.5)
            assert limits() == (100, 2500)
            tr.set_write_buffer_limits(low=3.5)
            assert limits() == (3, 14)
            tr.set_write_buffer_limits(high=10**30)  # in effect: never pause
            low, high = tr.get_write_buffer_limits()
            assert high >= 2**63 and low >= 2**61
            tr.set_write_buffer_limits(high=float("inf"), low=0)
            tr.write(b"x" * 1024 * 1024)
            assert not tr.is_closing()
            with pytest.raises(ValueError) as info:
                tr.set_write_buffer_limits(high=-1.5)
            assert str(info.value) == "high (-1.5) must be >= low (-1.0) must be >= 0"
            with pytest.raises(ValueError, match="must be >= 0"):
                tr.set_write_buffer_limits(high=float("nan"))
            with pytest.raises(TypeError):
                tr.set_write_buffer_limits(high="x")
            await close_and_wait(proto)

    run(loop, main())
