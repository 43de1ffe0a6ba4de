"""Unix stream sockets: create_unix_server, create_unix_connection, connect_accepted_socket."""

from __future__ import annotations

import asyncio
import errno
import os
import pathlib
import socket
import stat
import sys

import pytest
from _transport_helpers import (
    TIMEOUT,
    Accepting,
    Recorder,
    close_and_wait,
    echo_factory,
    fd_count,
    pattern,
    run,
)


async def unix_roundtrip(loop, path, payload=b"ping"):
    tr, proto = await loop.create_unix_connection(lambda: Recorder(loop), path)
    tr.write(payload)
    got = await proto.received(len(payload))
    await close_and_wait(proto)
    return got


def test_unix_server_and_connection(loop, unix_path):
    async def main():
        acc = echo_factory(loop)
        server = await loop.create_unix_server(acc, unix_path)
        async with server:
            assert server.is_serving()
            assert len(server.sockets) == 1
            sock = server.sockets[0]
            assert sock.family == socket.AF_UNIX
            assert sock.type == socket.SOCK_STREAM
            assert sock.getsockname() == unix_path
            assert stat.S_ISSOCK(os.stat(unix_path).st_mode)

            tr, proto = await loop.create_unix_connection(lambda: Recorder(loop), unix_path)
            assert isinstance(tr, asyncio.Transport)
            assert tr.get_extra_info("peername") == unix_path
            assert tr.get_extra_info("sockname") == ""
            assert tr.get_extra_info("socket").family == socket.AF_UNIX
            peer = await acc.next()
            assert peer.transport.get_extra_info("sockname") == unix_path
            assert peer.transport.get_extra_info("peername") == ""

            payload = pattern(2 * 1024 * 1024)
            tr.write(payload)
            assert await proto.received(len(payload)) == payload
            assert tr.can_write_eof()
            await close_and_wait(proto)
        await acc.all_lost()

    run(loop, main())


def test_unix_path_like_objects(loop, unix_path):
    async def main():
        path = pathlib.Path(unix_path)
        server = await loop.create_unix_server(echo_factory(loop), path)
        async with server:
            assert server.sockets[0].getsockname() == unix_path
            assert await unix_roundtrip(loop, path) == b"ping"

    run(loop, main())


def test_unix_half_close(loop, unix_path):
    class Server(Recorder):
        def eof_received(self):
            super().eof_received()
            self.transport.write(b"got " + bytes(self.data))
            self.transport.close()
            return True

    async def main():
        acc = Accepting(loop, protocol_cls=Server)
        server = await loop.create_unix_server(acc, unix_path)
        async with server:
            tr, proto = await loop.create_unix_connection(
                lambda: Recorder(loop, eof_result=True), unix_path)
            tr.write(b"question")
            tr.write_eof()
            await asyncio.wait_for(proto.eof, TIMEOUT)
            assert bytes(proto.data) == b"got question"
            tr.close()
            await asyncio.wait_for(proto.lost, TIMEOUT)
        await acc.all_lost()

    run(loop, main())


def test_unix_server_with_sock(loop, unix_path):
    async def main():
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(unix_path)
        acc = echo_factory(loop)
        server = await loop.create_unix_server(acc, sock=sock)
        assert server.sockets[0].fileno() == sock.fileno()
        assert await unix_roundtrip(loop, unix_path) == b"ping"
        server.close()
        await server.wait_closed()
        await acc.all_lost()
        assert sock.fileno() == -1

    run(loop, main())


def test_unix_connection_with_sock(loop, unix_path):
    async def main():
        server = await loop.create_unix_server(echo_factory(loop), unix_path)
        async with server:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect(unix_path)
            tr, proto = await loop.create_unix_connection(lambda: Recorder(loop), sock=sock)
            assert tr.get_extra_info("socket").fileno() == sock.fileno()
            tr.write(b"sock")
            assert await proto.received(4) == b"sock"
            await close_and_wait(proto)
            assert sock.fileno() == -1

    run(loop, main())


def test_unix_abstract_name(loop, abstract_name):
    async def main():
        acc = echo_factory(loop)
        server = await loop.create_unix_server(acc, abstract_name)
        async with server:
            name = server.sockets[0].getsockname()
            assert name == abstract_name.encode()
            tr, proto = await loop.create_unix_connection(lambda: Recorder(loop), abstract_name)
            assert tr.get_extra_info("peername") == abstract_name.encode()
            tr.write(b"abstract")
            assert await proto.received(8) == b"abstract"
            await close_and_wait(proto)
        await acc.all_lost()

    run(loop, main())


def test_unix_server_close_leaves_the_socket_file(loop, unix_path):
    if sys.version_info >= (3, 13):
        pytest.skip("3.11/3.12 behaviour; 3.13 removes the file (cleanup_socket)")

    async def main():
        server = await loop.create_unix_server(echo_factory(loop), unix_path)
        server.close()
        await server.wait_closed()
        assert stat.S_ISSOCK(os.stat(unix_path).st_mode)
        # given a bound socket, too
        os.unlink(unix_path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(unix_path)
        server = await loop.create_unix_server(echo_factory(loop), sock=sock)
        server.close()
        await server.wait_closed()
        assert stat.S_ISSOCK(os.stat(unix_path).st_mode)
        with pytest.raises(TypeError, match="cleanup_socket"):
            await loop.create_unix_server(echo_factory(loop), unix_path, cleanup_socket=True)

    run(loop, main())


def test_unix_server_cleanup_socket(loop, unix_path, short_tmp):
    if sys.version_info < (3, 13):
        pytest.skip("cleanup_socket is Python 3.13+")

    async def main():
        # the default removes the socket file on close
        server = await loop.create_unix_server(echo_factory(loop), unix_path)
        assert os.path.exists(unix_path)
        server.close()
        await server.wait_closed()
        assert not os.path.exists(unix_path)

        server = await loop.create_unix_server(echo_factory(loop), unix_path,
                                               cleanup_socket=True)
        server.close()
        assert not os.path.exists(unix_path)

        server = await loop.create_unix_server(echo_factory(loop), unix_path,
                                               cleanup_socket=False)
        server.close()
        await server.wait_closed()
        assert stat.S_ISSOCK(os.stat(unix_path).st_mode)
        os.unlink(unix_path)

        # a server given a bound socket cleans up too
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(unix_path)
        server = await loop.create_unix_server(echo_factory(loop), sock=sock)
        server.close()
        assert not os.path.exists(unix_path)

        # a file that replaced the socket is not removed
        server = await loop.create_unix_server(echo_factory(loop), unix_path)
        os.unlink(unix_path)
        with open(unix_path, "w") as f:
            f.write("not the server's")
        server.close()
        with open(unix_path) as f:
            assert f.read() == "not the server's"

    run(loop, main())


def test_unix_server_replaces_a_stale_socket_file(loop, unix_path):
    async def main():
        stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        stale.bind(unix_path)
        stale.close()
        assert stat.S_ISSOCK(os.stat(unix_path).st_mode)
        # nothing listens there any more
        with pytest.raises(ConnectionRefusedError):
            await loop.create_unix_connection(lambda: Recorder(loop), unix_path)

        server = await loop.create_unix_server(echo_factory(loop), unix_path)
        async with server:
            assert await unix_roundtrip(loop, unix_path) == b"ping"

    run(loop, main())


def test_unix_server_on_a_path_that_is_not_a_socket(loop, unix_path):
    async def main():
        with open(unix_path, "w") as f:
            f.write("regular file")
        before = fd_count()
        with pytest.raises(OSError) as info:
            await loop.create_unix_server(echo_factory(loop), unix_path)
        assert info.value.errno == errno.EADDRINUSE
        assert str(info.value) == (
            f"[Errno {errno.EADDRINUSE}] Address {unix_path!r} is already in use")
        assert fd_count() == before
        with open(unix_path) as f:
            assert f.read() == "regular file"

    run(loop, main())


def test_unix_server_abstract_name_in_use(loop, abstract_name):
    async def main():
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as taken:
            taken.bind(abstract_name)
            with pytest.raises(OSError) as info:
                await loop.create_unix_server(echo_factory(loop), abstract_name)
            assert info.value.errno == errno.EADDRINUSE
            assert str(info.value) == (
                f"[Errno {errno.EADDRINUSE}] Address {abstract_name!r} is already in use")

    run(loop, main())


def test_unix_connection_errors(loop, unix_path):
    async def main():
        before = fd_count()
        with pytest.raises(FileNotFoundError):
            await loop.create_unix_connection(lambda: Recorder(loop), unix_path)
        assert fd_count() == before

    run(loop, main())


def test_unix_bad_arguments(loop, unix_path):
    async def main():
        a, b = socket.socketpair()
        with a, b, socket.socket() as tcp:
            with pytest.raises(ValueError) as info:
                await loop.create_unix_connection(lambda: Recorder(loop), unix_path, sock=a)
            assert str(info.value) == "path and sock can not be specified at the same time"
            with pytest.raises(ValueError) as info:
                await loop.create_unix_connection(lambda: Recorder(loop))
            assert str(info.value) == "no path and sock were specified"
            with pytest.raises(ValueError) as info:
                await loop.create_unix_connection(lambda: Recorder(loop), sock=tcp)
            assert str(info.value) == (
                f"A UNIX Domain Stream Socket was expected, got {tcp!r}")
            with pytest.raises(ValueError) as info:
                await loop.create_unix_connection(lambda: Recorder(loop), unix_path,
                                                  server_hostname="x")
            assert str(info.value) == "server_hostname is only meaningful with ssl"

            with pytest.raises(ValueError) as info:
                await loop.create_unix_server(echo_factory(loop), unix_path, sock=a)
            assert str(info.value) == "path and sock can not be specified at the same time"
            with pytest.raises(ValueError) as info:
                await loop.create_unix_server(echo_factory(loop))
            assert str(info.value) == "path was not specified, and no sock specified"
            with pytest.raises(ValueError) as info:
                await loop.create_unix_server(echo_factory(loop), sock=tcp)
            assert str(info.value) == (
                f"A UNIX Domain Stream Socket was expected, got {tcp!r}")
            with pytest.raises(ValueError) as info:
                await loop.create_unix_server(echo_factory(loop), unix_path,
                                              ssl_handshake_timeout=1.0)
            assert str(info.value) == "ssl_handshake_timeout is only meaningful with ssl"
            for sock in (a, b, tcp):
                assert sock.fileno() != -1
        assert not os.path.exists(unix_path)

    run(loop, main())


def test_unix_start_serving_false(loop, unix_path):
    async def main():
        server = await loop.create_unix_server(echo_factory(loop), unix_path,
                                               start_serving=False)
        async with server:
            assert not server.is_serving()
            await server.start_serving()
            assert server.is_serving()
            assert await unix_roundtrip(loop, unix_path) == b"ping"

    run(loop, main())


def test_connect_accepted_unix_socket(loop, unix_path):
    async def main():
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as lsock:
            lsock.bind(unix_path)
            lsock.listen(1)
            client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            client.connect(unix_path)
            conn, _ = lsock.accept()
        with client:
            tr, proto = await loop.connect_accepted_socket(
                lambda: Recorder(loop, echo=True), conn)
            assert tr.get_extra_info("sockname") == unix_path
            client.setblocking(False)
            await loop.sock_sendall(client, b"unix accepted")
            assert await loop.sock_recv(client, 100) == b"unix accepted"
            client.shutdown(socket.SHUT_WR)
            assert await asyncio.wait_for(proto.lost, TIMEOUT) is None
            assert conn.fileno() == -1

    run(loop, main())


def test_connect_accepted_socketpair(loop):
    async def main():
        a, b = socket.socketpair()
        with b:
            tr, proto = await loop.connect_accepted_socket(lambda: Recorder(loop), a)
            b.setblocking(False)
            await loop.sock_sendall(b, b"pair")
            assert await proto.received(4) == b"pair"
            tr.write(b"back")
            assert await loop.sock_recv(b, 100) == b"back"
            await close_and_wait(proto)
            assert a.fileno() == -1
            assert await loop.sock_recv(b, 100) == b""

    run(loop, main())
