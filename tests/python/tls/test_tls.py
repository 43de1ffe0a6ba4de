"""TLS behaviour: echo over every API that takes ``ssl=``, extra info, start_tls, sendfile
fallback, argument checks (ALPN, SNI and certificates: test_tls_negotiation.py).

Each test runs on aioxide and on the stdlib loop and expects what stdlib asyncio 3.11
does.
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import socket
import ssl

import pytest
from _tls_helpers import (
    SIGNED_CERTFILE2,
    TIMEOUT,
    Accepting,
    BioPeer,
    Recorder,
    client_context,
    close_both,
    echo_roundtrip,
    fd_count,
    listening_socket,
    pattern,
    raw_connect,
    record_exception_handler,
    run,
    server_context,
    subject_cn,
    tls_connect,
    tls_server,
)

HOST = "127.0.0.1"


# -- echo ---------------------------------------------------------------------------------


def test_echo_create_server_create_connection(loop, server_ctx, client_ctx):
    payload = pattern(1024 * 1024)

    async def main():
        errors = record_exception_handler(loop)
        async with tls_server(loop, server_ctx) as (_server, addr, accepting):
            transport, client = await tls_connect(loop, addr, client_ctx)
            server_proto = await accepting.next()
            await echo_roundtrip(transport, client, payload)
            assert bytes(server_proto.data) == payload
            await close_both(transport, client, server_proto)
            # Closing sends close_notify; each side gets the other's as an EOF first.
            assert client.events == ["made", "data", "eof", "lost"]
            assert server_proto.events == ["made", "data", "eof", "lost"]
        assert errors == []

    run(loop, main())


def test_server_closes_first(loop, server_ctx, client_ctx):
    async def main():
        async with tls_server(loop, server_ctx) as (_server, addr, accepting):
            transport, client = await tls_connect(loop, addr, client_ctx)
            server_proto = await accepting.next()
            await echo_roundtrip(transport, client, b"ping")
            server_proto.transport.close()
            assert await asyncio.wait_for(client.lost, TIMEOUT) is None
            assert await asyncio.wait_for(server_proto.lost, TIMEOUT) is None
            assert client.events == ["made", "data", "eof", "lost"]
            assert server_proto.events == ["made", "data", "eof", "lost"]
            assert transport.is_closing()

    run(loop, main())


def test_streams_open_connection_start_server(loop, server_ctx, client_ctx):
    async def main():
        done = loop.create_future()

        async def handle(reader, writer):
            try:
                line = await reader.readline()
                writer.write(line.upper())
                await writer.drain()
                assert writer.get_extra_info("ssl_object").server_side is True
                assert await reader.read() == b""
                writer.close()
                await writer.wait_closed()
                done.set_result(line)
            except BaseException as exc:  # surfaced through `done`
                done.set_exception(exc)

        server = await asyncio.start_server(handle, HOST, 0, ssl=server_ctx)
        async with server:
            addr = server.sockets[0].getsockname()[:2]
            reader, writer = await asyncio.open_connection(
                *addr, ssl=client_ctx, server_hostname="localhost")
            writer.write(b"hello tls\n")
            assert await reader.readline() == b"HELLO TLS\n"
            assert writer.can_write_eof() is False
            writer.close()
            await writer.wait_closed()
            assert await asyncio.wait_for(done, TIMEOUT) == b"hello tls\n"

    run(loop, main())


def test_many_writes_and_writelines(loop, server_ctx, client_ctx):
    chunks = [pattern(1000 + i, seed=i) for i in range(200)]
    expected = b"".join(chunks) * 2

    async def main():
        async with tls_server(loop, server_ctx) as (_server, addr, accepting):
            transport, client = await tls_connect(loop, addr, client_ctx)
            server_proto = await accepting.next()
            for chunk in chunks:
                transport.write(chunk)
            transport.writelines(chunks)
            assert await client.received(len(expected)) == expected
            await close_both(transport, client, server_proto)

    run(loop, main())


def test_create_connection_with_sock(loop, server_ctx, client_ctx):
    async def main():
        async with tls_server(loop, server_ctx) as (_server, addr, accepting):
            sock = socket.socket()
            sock.setblocking(False)
            await loop.sock_connect(sock, addr)
            client = Recorder(loop)
            transport, _ = await loop.create_connection(
                lambda: client, sock=sock, ssl=client_ctx, server_hostname="localhost")
            server_proto = await accepting.next()
            await echo_roundtrip(transport, client, b"over a given socket")
            await close_both(transport, client, server_proto)
            assert sock.fileno() == -1

    run(loop, main())


def test_connect_accepted_socket_ssl(loop, server_ctx, client_ctx):
    async def main():
        with listening_socket() as lsock:
            accept = loop.create_task(loop.sock_accept(lsock))
            connect = loop.create_task(tls_connect(loop, lsock.getsockname(), client_ctx))
            conn, _peer = await accept
            server_proto = Recorder(loop, echo=True)
            server_tr, _ = await loop.connect_accepted_socket(
                lambda: server_proto, conn, ssl=server_ctx)
            transport, client = await connect
            assert server_tr.get_extra_info("ssl_object").server_side is True
            await echo_roundtrip(transport, client, b"accepted elsewhere")
            await close_both(transport, client, server_proto)

    run(loop, main())


def test_unix_server_and_connection_ssl(loop, server_ctx, client_ctx, unix_path):
    async def main():
        accepting = Accepting(loop, echo=True)
        server = await loop.create_unix_server(accepting, unix_path, ssl=server_ctx)
        try:
            client = Recorder(loop)
            transport, _ = await loop.create_unix_connection(
                lambda: client, unix_path, ssl=client_ctx, server_hostname="localhost")
            server_proto = await accepting.next()
            assert transport.get_extra_info("ssl_object").server_hostname == "localhost"
            await echo_roundtrip(transport, client, pattern(100_000))
            await close_both(transport, client, server_proto)
        finally:
            server.close()
            await server.wait_closed()

    run(loop, main())


def test_unix_streams_ssl(loop, server_ctx, client_ctx, unix_path):
    async def main():
        async def handle(reader, writer):
            writer.write(await reader.readexactly(5))
            await writer.drain()
            await reader.read()
            writer.close()

        server = await asyncio.start_unix_server(handle, unix_path, ssl=server_ctx)
        async with server:
            reader, writer = await asyncio.open_unix_connection(
                unix_path, ssl=client_ctx, server_hostname="localhost")
            writer.write(b"abcde")
            assert await reader.readexactly(5) == b"abcde"
            writer.close()
            await writer.wait_closed()

    run(loop, main())


# -- extra info ---------------------------------------------------------------------------


def test_extra_info_client_and_server(loop, server_ctx, client_ctx):
    async def main():
        async with tls_server(loop, server_ctx) as (_server, addr, accepting):
            transport, client = await tls_connect(loop, addr, client_ctx)
            server_proto = await accepting.next()
            server_tr = server_proto.transport

            sslobj = transport.get_extra_info("ssl_object")
            assert isinstance(sslobj, ssl.SSLObject)
            assert sslobj.server_side is False
            assert sslobj.server_hostname == "localhost"
            assert sslobj.context is client_ctx
            peercert = transport.get_extra_info("peercert")
            assert peercert == sslobj.getpeercert()
            assert subject_cn(peercert) == "localhost"
            assert peercert["subjectAltName"] == (("DNS", "localhost"),)
            cipher = transport.get_extra_info("cipher")
            assert cipher == sslobj.cipher()
            assert isinstance(cipher, tuple) and len(cipher) == 3
            assert cipher[1] == sslobj.version()
            assert transport.get_extra_info("compression") is None
            assert transport.get_extra_info("sslcontext") is client_ctx
            # other keys come from the socket transport underneath
            assert transport.get_extra_info("peername") == addr
            assert transport.get_extra_info("sockname")[0] == HOST
            assert transport.get_extra_info("socket").getpeername() == addr
            assert transport.get_extra_info("no-such-key", "dflt") == "dflt"
            assert transport.get_extra_info("no-such-key") is None

            srv_obj = server_tr.get_extra_info("ssl_object")
            assert isinstance(srv_obj, ssl.SSLObject)
            assert srv_obj.server_side is True
            assert srv_obj.server_hostname is None
            assert server_tr.get_extra_info("peercert") is None  # no client certificate
            assert server_tr.get_extra_info("cipher") == cipher
            assert server_tr.get_extra_info("compression") is None
            assert server_tr.get_extra_info("sslcontext") is server_ctx
            assert server_tr.get_extra_info("peername") == transport.get_extra_info("sockname")
            assert srv_obj.version() == sslobj.version()
            await close_both(transport, client, server_proto)

    run(loop, main())


def test_tls_transport_api(loop, server_ctx, client_ctx):
    async def main():
        async with tls_server(loop, server_ctx) as (_server, addr, accepting):
            transport, client = await tls_connect(loop, addr, client_ctx)
            server_proto = await accepting.next()
            assert transport.get_protocol() is client
            assert transport.can_write_eof() is False
            with pytest.raises(NotImplementedError) as raised:
                transport.write_eof()
            assert raised.value.args == ()
            with pytest.raises(TypeError, match="data: expecting a bytes-like instance"):
                transport.write("text")
            assert transport.is_reading() is True
            transport.pause_reading()
            assert transport.is_reading() is False
            server_proto.transport.write(b"while paused")
            transport.resume_reading()
            assert transport.is_reading() is True
            assert await client.received(12) == b"while paused"
            assert transport.is_closing() is False
            await close_both(transport, client, server_proto)
            assert transport.is_closing() is True

    run(loop, main())


# -- start_tls ----------------------------------------------------------------------------


def test_streams_start_tls_both_sides(loop, server_ctx, client_ctx):
    async def main():
        done = loop.create_future()

        async def handle(reader, writer):
            try:
                assert await reader.readline() == b"STARTTLS\n"
                writer.write(b"OK\n")
                await writer.drain()
                await writer.start_tls(server_ctx)
                assert writer.get_extra_info("ssl_object").server_side is True
                line = await reader.readline()
                writer.write(b"secure:" + line)
                await writer.drain()
                assert await reader.read() == b""
                writer.close()
                await writer.wait_closed()
                done.set_result(None)
            except BaseException as exc:  # surfaced through `done`
                done.set_exception(exc)

        server = await asyncio.start_server(handle, HOST, 0)
        async with server:
            addr = server.sockets[0].getsockname()[:2]
            reader, writer = await asyncio.open_connection(*addr)
            assert writer.get_extra_info("ssl_object") is None
            writer.write(b"STARTTLS\n")
            assert await reader.readline() == b"OK\n"
            await writer.start_tls(client_ctx, server_hostname="localhost")
            sslobj = writer.get_extra_info("ssl_object")
            assert isinstance(sslobj, ssl.SSLObject)
            assert subject_cn(writer.get_extra_info("peercert")) == "localhost"
            writer.write(b"ping\n")
            assert await reader.readline() == b"secure:ping\n"
            writer.close()
            await writer.wait_closed()
            await asyncio.wait_for(done, TIMEOUT)

    run(loop, main())


def test_server_start_tls_takes_the_hello_already_buffered(loop, is_aioxide, server_ctx,
                                                          client_ctx):
    # The client starts TLS at once; its ClientHello is in the server's stream reader
    # before the server calls start_tls, and must feed the handshake (gh-142352).
    stdlib_takes_it = "gh-142352" in inspect.getsource(asyncio.BaseEventLoop.start_tls)
    if not is_aioxide and not stdlib_takes_it:
        pytest.skip("this Python's asyncio loses the buffered bytes (fixed in 3.13.x/3.14)")

    async def main():
        async def handle(reader, writer):
            await reader._wait_for_data("test")  # the ClientHello arrived, unread
            assert reader._buffer
            await writer.start_tls(server_ctx)
            writer.write(b"secure:" + await reader.readline())
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(handle, HOST, 0)
        async with server:
            reader, writer = await asyncio.open_connection(*server.sockets[0].getsockname())
            await writer.start_tls(client_ctx, server_hostname="localhost")
            writer.write(b"ping\n")
            assert await reader.readline() == b"secure:ping\n"
            writer.close()
            await writer.wait_closed()

    run(loop, main())


def test_loop_start_tls_protocols(loop, server_ctx, client_ctx):
    async def main():
        accepting = Accepting(loop)
        server = await loop.create_server(accepting, HOST, 0)
        try:
            addr = server.sockets[0].getsockname()[:2]
            plain_client = Recorder(loop)
            plain_tr, _ = await loop.create_connection(lambda: plain_client, *addr)
            plain_server = await accepting.next()
            plain_tr.write(b"upgrade")
            assert await plain_server.received(7) == b"upgrade"

            client_app = Recorder(loop)
            server_app = Recorder(loop, echo=True)
            server_tls, client_tls = await asyncio.gather(
                loop.start_tls(plain_server.transport, server_app, server_ctx,
                               server_side=True),
                loop.start_tls(plain_tr, client_app, client_ctx,
                               server_hostname="localhost"),
            )
            # start_tls does not call connection_made on the protocol it is given
            assert client_app.events == [] and server_app.events == []
            client_app.transport = client_tls
            server_app.transport = server_tls
            assert client_tls.get_protocol() is client_app
            assert plain_tr.get_protocol() is not plain_client  # now the TLS protocol
            assert client_tls.get_extra_info("ssl_object").server_side is False
            assert server_tls.get_extra_info("ssl_object").server_side is True
            assert client_tls.get_extra_info("peername") == addr

            await echo_roundtrip(client_tls, client_app, pattern(200_000))
            client_tls.close()
            assert await asyncio.wait_for(client_app.lost, TIMEOUT) is None
            assert await asyncio.wait_for(server_app.lost, TIMEOUT) is None
            assert client_app.events == ["data", "eof", "lost"]
            assert plain_tr.is_closing()
            # the plain protocols saw nothing after the upgrade
            assert plain_client.events == ["made"]
            assert plain_server.events == ["made", "data"]
        finally:
            server.close()
            await server.wait_closed()

    run(loop, main())


def test_first_data_after_start_tls_reaches_the_new_transport(loop, is_aioxide, server_ctx,
                                                              client_ctx):
    # The client's first data rides in the same segment as its last handshake flight.
    # start_tls() must hand the server its TLS transport before the protocol sees that
    # data, so the answer goes out encrypted, as on uvloop. (3.11's asyncio delivers the
    # data first, to a protocol still holding the plain transport.)
    if not is_aioxide:
        pytest.skip("stdlib asyncio 3.11 delivers the data before start_tls() returns")

    async def main():
        seen = loop.create_future()

        class Upgrading(asyncio.Protocol):
            def connection_made(self, transport):
                self.transport = transport
                self.upgrade = loop.create_task(self.start_tls(transport))

            async def start_tls(self, transport):
                self.transport = await loop.start_tls(transport, self, server_ctx,
                                                      server_side=True)

            def data_received(self, data):
                if not seen.done():
                    seen.set_result((data, self.transport))
                self.transport.write(data)

        proto = Upgrading()
        server = await loop.create_server(lambda: proto, HOST, 0)
        sock = await raw_connect(loop, server.sockets[0].getsockname()[:2])
        try:
            peer = BioPeer(loop, sock, client_ctx, server_side=False,
                           server_hostname="localhost")
            while True:
                try:
                    peer.sslobj.do_handshake()
                    break
                except ssl.SSLWantReadError:
                    await peer.flush()
                    await peer.feed()
            peer.sslobj.write(b"hello")
            await peer.flush()  # the last flight and the data in one send
            data, transport = await asyncio.wait_for(seen, TIMEOUT)
            assert data == b"hello"
            assert transport.get_extra_info("ssl_object") is not None
            assert await asyncio.wait_for(peer.recv(5), TIMEOUT) == b"hello"
            proto.transport.abort()
        finally:
            sock.close()
            server.close()
            await server.wait_closed()

    run(loop, main())


def test_start_tls_argument_errors(loop, client_ctx):
    async def main():
        accepting = Accepting(loop)
        server = await loop.create_server(accepting, HOST, 0)
        try:
            addr = server.sockets[0].getsockname()[:2]
            client = Recorder(loop)
            transport, _ = await loop.create_connection(lambda: client, *addr)
            with pytest.raises(TypeError) as info:
                await loop.start_tls(transport, client, None)
            assert str(info.value) == (
                "sslcontext is expected to be an instance of ssl.SSLContext, got None")
            bogus = object()
            with pytest.raises(TypeError) as info:
                await loop.start_tls(bogus, client, client_ctx)
            assert str(info.value) == f"transport {bogus!r} is not supported by start_tls()"
            # the connection is still usable as plain
            assert not transport.is_closing()
            transport.close()
            await client.lost
        finally:
            server.close()
            await server.wait_closed()

    run(loop, main())


def test_start_tls_inside_tls(loop, server_ctx, client_ctx):
    """TLS over a TLS transport (as through an HTTPS proxy): asyncio allows it."""

    async def main():
        # The outer protocols are replaced by the inner TLS protocols: they never see
        # connection_lost, so the server does not wait for them.
        async with tls_server(loop, server_ctx, factory=Accepting(loop), wait_lost=False) as (
                _server, addr, accepting):
            outer_tr, outer_client = await tls_connect(loop, addr, client_ctx)
            outer_server = await accepting.next()
            inner_client = Recorder(loop)
            inner_server = Recorder(loop, echo=True)
            inner_ctx = client_context()
            server_tls, client_tls = await asyncio.gather(
                loop.start_tls(outer_server.transport, inner_server,
                               server_context(SIGNED_CERTFILE2), server_side=True),
                loop.start_tls(outer_tr, inner_client, inner_ctx,
                               server_hostname="fakehostname"),
            )
            inner_client.transport = client_tls
            inner_server.transport = server_tls
            assert subject_cn(client_tls.get_extra_info("peercert")) == "fakehostname"
            assert subject_cn(outer_tr.get_extra_info("peercert")) == "localhost"
            await echo_roundtrip(client_tls, inner_client, pattern(50_000))
            client_tls.close()
            assert await asyncio.wait_for(inner_client.lost, TIMEOUT) is None
            assert await asyncio.wait_for(inner_server.lost, TIMEOUT) is None
            assert outer_tr.is_closing() and outer_server.transport.is_closing()
            assert outer_client.events == ["made"] and outer_server.events == ["made"]

    run(loop, main())


# -- sendfile -----------------------------------------------------------------------------


def _sendfile_setup(tmp_path, size=300_000):
    data = pattern(size, seed=3)
    path = tmp_path / "blob"
    path.write_bytes(data)
    return data, path


def test_sendfile_falls_back_over_tls(loop, server_ctx, client_ctx, tmp_path):
    data, path = _sendfile_setup(tmp_path)

    async def main():
        accepting = Accepting(loop)
        async with tls_server(loop, server_ctx, factory=accepting) as (_server, addr, _f):
            transport, client = await tls_connect(loop, addr, client_ctx)
            server_proto = await accepting.next()
            with open(path, "rb") as f:
                sent = await loop.sendfile(transport, f)
                assert sent == len(data)
                assert f.tell() == len(data)
            assert await server_proto.received(len(data)) == data
            with open(path, "rb") as f:
                sent = await loop.sendfile(transport, f, 1000, 50_000)
                assert sent == 50_000
                assert f.tell() == 51_000
            total = len(data) + 50_000
            got = await server_proto.received(total)
            assert got[len(data):] == data[1000:51_000]
            # the connection stays usable after sendfile
            transport.write(b"after")
            assert await server_proto.received(total + 5) == got + b"after"
            await close_both(transport, client, server_proto)

    run(loop, main())


def test_sendfile_over_tls_without_fallback(loop, server_ctx, client_ctx, tmp_path):
    _data, path = _sendfile_setup(tmp_path, 1000)

    async def main():
        async with tls_server(loop, server_ctx) as (_server, addr, accepting):
            transport, client = await tls_connect(loop, addr, client_ctx)
            server_proto = await accepting.next()
            with open(path, "rb") as f:
                with pytest.raises(RuntimeError) as info:
                    await loop.sendfile(transport, f, fallback=False)
                assert str(info.value) == (
                    "fallback is disabled and native sendfile is not supported for "
                    f"transport {transport!r}")
                assert f.tell() == 0
            await close_both(transport, client, server_proto)
            with open(path, "rb") as f:
                with pytest.raises(RuntimeError, match="^Transport is closing$"):
                    await loop.sendfile(transport, f)

    run(loop, main())


# -- argument checks ----------------------------------------------------------------------


def test_ssl_argument_errors(loop, client_ctx, unix_path):
    unused = [socket.socket(), socket.socket()]  # never connected: only checked

    async def main():
        factory = asyncio.Protocol
        cases = [
            (loop.create_connection(factory, HOST, 1, server_hostname="x"),
             ValueError, "server_hostname is only meaningful with ssl"),
            (loop.create_connection(factory, HOST, 1, ssl_handshake_timeout=1),
             ValueError, "ssl_handshake_timeout is only meaningful with ssl"),
            (loop.create_connection(factory, HOST, 1, ssl_shutdown_timeout=1),
             ValueError, "ssl_shutdown_timeout is only meaningful with ssl"),
            (loop.create_connection(factory, sock=unused[0], ssl=client_ctx),
             ValueError, "You must set server_hostname when using ssl without a host"),
            (loop.create_server(factory, HOST, 0, ssl=True),
             TypeError, "ssl argument must be an SSLContext or None"),
            (loop.create_server(factory, HOST, 0, ssl_handshake_timeout=1),
             ValueError, "ssl_handshake_timeout is only meaningful with ssl"),
            (loop.create_server(factory, HOST, 0, ssl_shutdown_timeout=1),
             ValueError, "ssl_shutdown_timeout is only meaningful with ssl"),
            (loop.create_unix_connection(factory, unix_path, ssl=client_ctx),
             ValueError, "you have to pass server_hostname when using ssl"),
            (loop.create_unix_connection(factory, unix_path, server_hostname="x"),
             ValueError, "server_hostname is only meaningful with ssl"),
            (loop.create_unix_server(factory, unix_path, ssl=True),
             TypeError, "ssl argument must be an SSLContext or None"),
            (loop.create_unix_server(factory, unix_path, ssl_handshake_timeout=1),
             ValueError, "ssl_handshake_timeout is only meaningful with ssl"),
            (loop.connect_accepted_socket(factory, unused[1], ssl_shutdown_timeout=1),
             ValueError, "ssl_shutdown_timeout is only meaningful with ssl"),
        ]
        results = []
        for coro, _exc, _msg in cases:
            try:
                await coro
            except Exception as exc:
                results.append((type(exc), str(exc)))
            else:
                results.append(None)
        return results, [(exc, msg) for _c, exc, msg in cases]

    try:
        results, expected = run(loop, main())
    finally:
        for sock in unused:
            sock.close()
    assert results == expected


@pytest.mark.parametrize("which", ["handshake", "shutdown"])
@pytest.mark.parametrize("value", [0, -1])
def test_ssl_timeouts_must_be_positive(loop, client_ctx, which, value):
    async def main():
        # The check comes after connecting, and asyncio then leaves the socket open: pass
        # our own socket, so that it can be closed.
        with listening_socket() as lsock, socket.socket() as sock:
            sock.setblocking(False)
            await loop.sock_connect(sock, lsock.getsockname())
            with pytest.raises(ValueError) as info:
                await loop.create_connection(
                    asyncio.Protocol, sock=sock, ssl=client_ctx,
                    server_hostname="localhost", **{f"ssl_{which}_timeout": value})
            return str(info.value)

    msg = run(loop, main())
    assert msg == f"ssl_{which}_timeout should be a positive number, got {value}"


@pytest.mark.parametrize("which", ["handshake", "shutdown"])
def test_bad_ssl_timeout_leaks_no_socket_on_aioxide(aioxide_loop, client_ctx, which):
    # asyncio refuses the timeout only after connecting a socket it then leaves open;
    # aioxide refuses it before creating one.
    async def main():
        with listening_socket() as lsock:
            before = fd_count()
            with pytest.raises(ValueError, match="should be a positive number, got 0"):
                await aioxide_loop.create_connection(
                    asyncio.Protocol, *lsock.getsockname(), ssl=client_ctx,
                    server_hostname="localhost", **{f"ssl_{which}_timeout": 0})
            gc.collect()
            assert fd_count() == before

    run(aioxide_loop, main())
