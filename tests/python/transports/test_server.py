"""loop.create_server and the Server object; loop.connect_accepted_socket."""

from __future__ import annotations

import asyncio
import contextvars
import errno
import socket

import pytest
from _transport_helpers import (
    IN_USE,
    TIMEOUT,
    Accepting,
    Recorder,
    close_and_wait,
    echo_factory,
    fd_count,
    has_reuseport,
    run,
)


async def echo_roundtrip(loop, addr, payload=b"ping"):
    tr, proto = await loop.create_connection(lambda: Recorder(loop), *addr[:2])
    tr.write(payload)
    got = await proto.received(len(payload))
    await close_and_wait(proto)
    return got


# -- creating ------------------------------------------------------------------------------


def test_create_server_port_zero(loop):
    async def main():
        acc = echo_factory(loop)
        server = await loop.create_server(acc, "127.0.0.1", 0)
        try:
            assert isinstance(server, asyncio.AbstractServer)
            assert server.get_loop() is loop
            assert server.is_serving()
            sockets = server.sockets
            assert isinstance(sockets, tuple)
            assert len(sockets) == 1
            sock = sockets[0]
            host, port = sock.getsockname()
            assert host == "127.0.0.1" and port != 0
            assert sock.family == socket.AF_INET
            assert sock.type == socket.SOCK_STREAM
            assert await echo_roundtrip(loop, (host, port)) == b"ping"
            # each access gives a new tuple of the same sockets
            assert server.sockets is not sockets
            assert [s.fileno() for s in server.sockets] == [s.fileno() for s in sockets]
        finally:
            server.close()
            await server.wait_closed()
        await acc.all_lost()

    run(loop, main())


def test_create_server_several_hosts(loop, ipv6):
    async def main():
        acc = echo_factory(loop)
        server = await loop.create_server(acc, ["127.0.0.1", "::1"], 0)
        async with server:
            families = sorted(s.family for s in server.sockets)
            assert families == sorted([socket.AF_INET, socket.AF_INET6])
            for sock in server.sockets:
                if sock.family == socket.AF_INET6:
                    # no dual stack: each socket listens on its own family only
                    assert sock.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY) == 1
                assert await echo_roundtrip(loop, sock.getsockname()) == b"ping"
        await acc.all_lost()

    run(loop, main())


def test_create_server_same_host_twice_binds_once(loop):
    async def main():
        server = await loop.create_server(echo_factory(loop), ["127.0.0.1", "127.0.0.1"], 0)
        async with server:
            assert len(server.sockets) == 1

    run(loop, main())


def test_create_server_with_hostname(loop):
    async def main():
        infos = await loop.getaddrinfo("localhost", 0, type=socket.SOCK_STREAM,
                                       flags=socket.AI_PASSIVE)
        server = await loop.create_server(echo_factory(loop), "localhost", 0)
        async with server:
            assert len(server.sockets) == len({i[4] for i in infos})
            for sock in server.sockets:
                assert await echo_roundtrip(loop, sock.getsockname()) == b"ping"

    run(loop, main())


def test_create_server_with_sock(loop):
    async def main():
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        acc = echo_factory(loop)
        server = await loop.create_server(acc, sock=sock)
        assert [s.fileno() for s in server.sockets] == [sock.fileno()]
        assert server.sockets[0].getsockname() == sock.getsockname()
        assert await echo_roundtrip(loop, sock.getsockname()) == b"ping"
        server.close()
        await server.wait_closed()
        await acc.all_lost()
        # the server owned the listening socket
        assert sock.fileno() == -1

    run(loop, main())


def test_create_server_backlog(loop):
    async def main():
        acc = echo_factory(loop)
        server = await loop.create_server(acc, "127.0.0.1", 0, backlog=1)
        async with server:
            addr = server.sockets[0].getsockname()
            for i in range(10):
                assert await echo_roundtrip(loop, addr, b"%d" % i) == b"%d" % i
        await acc.all_lost()

    run(loop, main())


def test_create_server_reuse_address(loop):
    async def main():
        default = await loop.create_server(echo_factory(loop), "127.0.0.1", 0)
        explicit_off = await loop.create_server(echo_factory(loop), "127.0.0.1", 0,
                                                reuse_address=False)
        async with default, explicit_off:
            opt = (socket.SOL_SOCKET, socket.SO_REUSEADDR)
            assert default.sockets[0].getsockopt(*opt) != 0
            assert explicit_off.sockets[0].getsockopt(*opt) == 0

    run(loop, main())


@pytest.mark.parametrize("port", ["", b"", "0", b"0", None, 0.0])
def test_numeric_host_ports_are_read_as_asyncio_reads_them(loop, port):
    # With a numeric host asyncio skips the lookup and takes the port through int()
    # (None and empty strings are 0), so all these bind an ephemeral port.
    async def main():
        server = await loop.create_server(echo_factory(loop), "127.0.0.1", port)
        try:
            addr = server.sockets[0].getsockname()
            assert addr[1] != 0
            assert await echo_roundtrip(loop, addr) == b"ping"
        finally:
            server.close()
            await server.wait_closed()

    run(loop, main())


def test_a_float_port_with_a_numeric_host_is_truncated(loop):
    # asyncio turns 1.5 into port 1 (nothing listens there): refused, not a lookup error.
    async def main():
        with pytest.raises(ConnectionRefusedError):
            await loop.create_connection(asyncio.Protocol, "127.0.0.1", 1.5)

    run(loop, main())


def test_create_server_reuse_port(loop):
    if not has_reuseport():
        pytest.skip("SO_REUSEPORT is not available")

    async def main():
        first = await loop.create_server(echo_factory(loop), "127.0.0.1", 0, reuse_port=True)
        async with first:
            port = first.sockets[0].getsockname()[1]
            second = await loop.create_server(echo_factory(loop), "127.0.0.1", port,
                                              reuse_port=True)
            async with second:
                assert second.sockets[0].getsockname() == ("127.0.0.1", port)
                for server in (first, second):
                    opt = (socket.SOL_SOCKET, socket.SO_REUSEPORT)
                    assert server.sockets[0].getsockopt(*opt) != 0
                assert await echo_roundtrip(loop, ("127.0.0.1", port)) == b"ping"

    run(loop, main())


def test_create_server_address_in_use(loop):
    async def main():
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen(1)
            host, port = taken.getsockname()
            before = fd_count()
            with pytest.raises(OSError) as info:
                await loop.create_server(echo_factory(loop), host, port)
            exc = info.value
            assert type(exc) is OSError
            assert exc.errno == errno.EADDRINUSE
            assert str(exc) == (
                f"[Errno {errno.EADDRINUSE}] error while attempting to bind on address "
                f"('127.0.0.1', {port}): {IN_USE}")
            assert exc.__cause__ is None and exc.__suppress_context__
            assert fd_count() == before

    run(loop, main())


def test_create_server_address_in_use_among_several_hosts(loop, ipv6):
    async def main():
        with socket.socket(socket.AF_INET6) as taken:
            taken.bind(("::1", 0))
            taken.listen(1)
            port = taken.getsockname()[1]
            before = fd_count()
            with pytest.raises(OSError) as info:
                await loop.create_server(echo_factory(loop), ["127.0.0.1", "::1"], port)
            assert info.value.errno == errno.EADDRINUSE
            assert str(info.value) == (
                f"[Errno {errno.EADDRINUSE}] error while attempting to bind on address "
                f"('::1', {port}, 0, 0): {IN_USE}")
            # the socket already bound for 127.0.0.1 is closed again
            assert fd_count() == before

    run(loop, main())


def test_create_server_bad_arguments(loop):
    async def main():
        with socket.socket() as sock:
            with pytest.raises(ValueError) as info:
                await loop.create_server(echo_factory(loop), "127.0.0.1", 0, sock=sock)
            assert str(info.value) == "host/port and sock can not be specified at the same time"
            assert sock.fileno() != -1
        with pytest.raises(ValueError) as info:
            await loop.create_server(echo_factory(loop))
        assert str(info.value) == "Neither host/port nor sock were specified"
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            with pytest.raises(ValueError) as info:
                await loop.create_server(echo_factory(loop), sock=udp)
            assert str(info.value) == f"A Stream Socket was expected, got {udp!r}"
        for kwargs, message in [
            ({"ssl_handshake_timeout": 1.0}, "ssl_handshake_timeout is only meaningful with ssl"),
            ({"ssl_shutdown_timeout": 1.0}, "ssl_shutdown_timeout is only meaningful with ssl"),
        ]:
            with pytest.raises(ValueError) as info:
                await loop.create_server(echo_factory(loop), "127.0.0.1", 0, **kwargs)
            assert str(info.value) == message

    run(loop, main())


def test_accepted_transport_extra_info(loop):
    async def main():
        acc = Accepting(loop)
        server = await loop.create_server(acc, "127.0.0.1", 0)
        async with server:
            addr = server.sockets[0].getsockname()
            tr, proto = await loop.create_connection(lambda: Recorder(loop), *addr)
            peer = await acc.next()
            assert isinstance(peer.transport, asyncio.Transport)
            assert peer.transport.get_extra_info("peername") == tr.get_extra_info("sockname")
            assert peer.transport.get_extra_info("sockname") == addr
            await close_and_wait(proto)
            assert await asyncio.wait_for(peer.lost, TIMEOUT) is None
            assert peer.events == ["made", "eof", "lost"]

    run(loop, main())


def test_each_connection_gets_its_own_context(loop):
    """A context variable the protocol factory sets is seen by that connection's
    callbacks and not by the next connection's factory (asyncio runs each accepted
    connection in a task of its own)."""
    var = contextvars.ContextVar("var", default="unset")
    seen: list[tuple[str, str]] = []

    class Tagging(Recorder):
        count = 0

        def __init__(self, loop):
            super().__init__(loop)
            Tagging.count += 1
            self.name = f"conn{Tagging.count}"
            seen.append((f"factory {self.name}", var.get()))
            var.set(self.name)

        def connection_made(self, transport):
            seen.append((f"made {self.name}", var.get()))
            super().connection_made(transport)

        def data_received(self, data):
            seen.append((f"data {self.name}", var.get()))
            super().data_received(data)

    async def main():
        acc = Accepting(loop, Tagging)
        server = await loop.create_server(acc, "127.0.0.1", 0)
        addr = server.sockets[0].getsockname()
        clients = []
        for _ in range(2):
            tr, proto = await loop.create_connection(lambda: Recorder(loop), *addr[:2])
            clients.append(proto)
            server_proto = await asyncio.wait_for(acc.next(), TIMEOUT)
            tr.write(b"x")
            await asyncio.wait_for(server_proto.received(1), TIMEOUT)
        for proto in clients:
            await close_and_wait(proto)
        server.close()
        await server.wait_closed()
        assert var.get() == "unset"

    run(loop, main())
    assert seen == [
        ("factory conn1", "unset"),
        ("made conn1", "conn1"),
        ("data conn1", "conn1"),
        ("factory conn2", "unset"),
        ("made conn2", "conn2"),
        ("data conn2", "conn2"),
    ]


# -- serving -------------------------------------------------------------------------------


def test_start_serving_false(loop):
    async def main():
        acc = echo_factory(loop)
        server = await loop.create_server(acc, "127.0.0.1", 0, start_serving=False)
        async with server:
            assert not server.is_serving()
            addr = server.sockets[0].getsockname()
            # bound but not listening yet
            with pytest.raises(ConnectionRefusedError):
                await loop.create_connection(lambda: Recorder(loop), *addr)
            await server.start_serving()
            assert server.is_serving()
            await server.start_serving()  # a second call does nothing
            assert await echo_roundtrip(loop, addr) == b"ping"
        assert not server.is_serving()
        await acc.all_lost()

    run(loop, main())


def test_serve_forever(loop):
    async def main():
        acc = echo_factory(loop)
        server = await loop.create_server(acc, "127.0.0.1", 0, start_serving=False)
        addr = server.sockets[0].getsockname()
        task = asyncio.ensure_future(server.serve_forever())
        await asyncio.sleep(0)
        assert server.is_serving()
        assert await echo_roundtrip(loop, addr) == b"ping"

        expected = f"server {server!r} is already being awaited on serve_forever()"
        with pytest.raises(RuntimeError) as info:
            await server.serve_forever()
        assert str(info.value) == expected
        assert not task.done()

        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not server.is_serving()
        assert server.sockets == ()
        with pytest.raises(ConnectionRefusedError):
            await loop.create_connection(lambda: Recorder(loop), *addr)

        with pytest.raises(RuntimeError) as info:
            await server.serve_forever()
        assert str(info.value) == f"server {server!r} is closed"
        await acc.all_lost()

    run(loop, main())


def test_close_stops_listening(loop):
    async def main():
        acc = echo_factory(loop)
        server = await loop.create_server(acc, "127.0.0.1", 0)
        addr = server.sockets[0].getsockname()
        before = fd_count()
        server.close()
        assert not server.is_serving()
        assert server.sockets == ()
        server.close()  # idempotent
        await asyncio.wait_for(server.wait_closed(), TIMEOUT)
        await asyncio.wait_for(server.wait_closed(), TIMEOUT)
        with pytest.raises(ConnectionRefusedError):
            await loop.create_connection(lambda: Recorder(loop), *addr)
        assert fd_count() == before - 1

    run(loop, main())


def test_close_keeps_accepted_connections(loop):
    async def main():
        acc = echo_factory(loop)
        server = await loop.create_server(acc, "127.0.0.1", 0)
        addr = server.sockets[0].getsockname()
        tr, proto = await loop.create_connection(lambda: Recorder(loop), *addr)
        peer = await acc.next()
        server.close()
        tr.write(b"still there")
        assert await proto.received(11) == b"still there"
        assert not peer.transport.is_closing()
        await close_and_wait(proto)
        assert await asyncio.wait_for(peer.lost, TIMEOUT) is None

    run(loop, main())


def test_wait_closed_waits_for_connections(loop):
    async def main():
        acc = echo_factory(loop)
        server = await loop.create_server(acc, "127.0.0.1", 0)
        addr = server.sockets[0].getsockname()
        tr, proto = await loop.create_connection(lambda: Recorder(loop), *addr)
        peer = await acc.next()
        waiter = asyncio.ensure_future(server.wait_closed())
        for _ in range(5):
            await asyncio.sleep(0)
        assert not waiter.done()  # still serving
        server.close()
        for _ in range(5):
            await asyncio.sleep(0)
        assert not waiter.done()  # a connection is still open
        await close_and_wait(proto)
        await asyncio.wait_for(peer.lost, TIMEOUT)
        await asyncio.wait_for(waiter, TIMEOUT)

    run(loop, main())


def test_async_with_closes_the_server(loop):
    async def main():
        server = await loop.create_server(echo_factory(loop), "127.0.0.1", 0)
        async with server as entered:
            assert entered is server
            assert server.is_serving()
        assert not server.is_serving()
        assert server.sockets == ()

    run(loop, main())


def test_server_repr_lists_its_sockets(loop):
    async def main():
        server = await loop.create_server(echo_factory(loop), "127.0.0.1", 0)
        async with server:
            assert repr(server) == f"<{type(server).__name__} sockets={server.sockets!r}>"

    run(loop, main())


def test_close_clients_and_abort_clients(loop, is_aioxide):
    async def main():
        acc = Accepting(loop)
        server = await loop.create_server(acc, "127.0.0.1", 0)
        if not is_aioxide and not hasattr(server, "close_clients"):
            server.close()
            pytest.skip("Server.close_clients/abort_clients are Python 3.13+")
        assert callable(server.close_clients) and callable(server.abort_clients)
        addr = server.sockets[0].getsockname()
        clients = [await loop.create_connection(lambda: Recorder(loop, eof_result=True), *addr)
                   for _ in range(3)]
        peers = [await acc.next() for _ in clients]

        # abort_clients drops what is buffered: fill one buffer first
        peers[0].transport.set_write_buffer_limits(high=1 << 30)
        while peers[0].transport.get_write_buffer_size() == 0:
            peers[0].transport.write(b"x" * 65536)

        server.close()
        waiter = asyncio.ensure_future(server.wait_closed())
        server.abort_clients()
        assert peers[0].transport.get_write_buffer_size() == 0
        for peer in peers:
            assert peer.transport.is_closing()
            assert await asyncio.wait_for(peer.lost, TIMEOUT) is None
        server.close_clients()  # nothing left to close
        await asyncio.wait_for(waiter, TIMEOUT)
        for tr, proto in clients:
            await asyncio.wait_for(proto.eof, TIMEOUT)
            tr.close()
            await asyncio.wait_for(proto.lost, TIMEOUT)

    run(loop, main())


def test_close_clients_flushes_and_closes(loop, is_aioxide):
    async def main():
        acc = Accepting(loop)
        server = await loop.create_server(acc, "127.0.0.1", 0)
        if not is_aioxide and not hasattr(server, "close_clients"):
            server.close()
            pytest.skip("Server.close_clients is Python 3.13+")
        addr = server.sockets[0].getsockname()
        clients = [await loop.create_connection(lambda: Recorder(loop), *addr)
                   for _ in range(3)]
        peers = [await acc.next() for _ in clients]
        for i, peer in enumerate(peers):
            peer.transport.write(b"bye %d" % i)
        server.close()
        server.close_clients()
        for peer in peers:
            assert peer.transport.is_closing()
        await asyncio.wait_for(server.wait_closed(), TIMEOUT)
        for i, (_tr, proto) in enumerate(clients):
            # the buffered goodbye arrives before the EOF
            assert await asyncio.wait_for(proto.lost, TIMEOUT) is None
            assert bytes(proto.data) == b"bye %d" % i
            assert proto.events == ["made", "data", "eof", "lost"]

    run(loop, main())


# -- connect_accepted_socket ---------------------------------------------------------------


def test_connect_accepted_socket_tcp(loop):
    async def main():
        with socket.socket() as lsock:
            lsock.bind(("127.0.0.1", 0))
            lsock.listen(1)
            client = socket.create_connection(lsock.getsockname())
            conn, addr = lsock.accept()
        with client:
            tr, proto = await loop.connect_accepted_socket(
                lambda: Recorder(loop, echo=True), conn)
            assert isinstance(tr, asyncio.Transport)
            assert proto.transport is tr
            assert tr.get_extra_info("socket").fileno() == conn.fileno()
            assert tr.get_extra_info("peername") == client.getsockname()
            client.setblocking(False)
            await loop.sock_sendall(client, b"accepted")
            assert await loop.sock_recv(client, 100) == b"accepted"
            client.shutdown(socket.SHUT_WR)
            assert await asyncio.wait_for(proto.lost, TIMEOUT) is None
            assert conn.fileno() == -1

    run(loop, main())


def test_connect_accepted_socket_bad_arguments(loop):
    async def main():
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            with pytest.raises(ValueError) as info:
                await loop.connect_accepted_socket(lambda: Recorder(loop), udp)
            assert str(info.value) == f"A Stream Socket was expected, got {udp!r}"
        a, b = socket.socketpair()
        with a, b:
            for kwargs, message in [
                ({"ssl_handshake_timeout": 1.0},
                 "ssl_handshake_timeout is only meaningful with ssl"),
                ({"ssl_shutdown_timeout": 1.0},
                 "ssl_shutdown_timeout is only meaningful with ssl"),
            ]:
                with pytest.raises(ValueError) as info:
                    await loop.connect_accepted_socket(lambda: Recorder(loop), a, **kwargs)
                assert str(info.value) == message
            assert a.fileno() != -1

    run(loop, main())
