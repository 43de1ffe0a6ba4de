"""TLS faults and load: handshakes against peers that never answer, send garbage or close
mid-handshake, certificates that fail verification, shutdown timeouts, cancellation,
and many connections, each checked for the asyncio exception and for leaked descriptors.

Each test runs on aioxide and on the stdlib loop and expects what stdlib asyncio 3.11
does.
"""

from __future__ import annotations

import asyncio
import ssl

import pytest
from _tls_helpers import (
    ONLYCERT,
    ONLYKEY,
    SIGNED_CERTFILE2,
    SIGNING_CA,
    TIMEOUT,
    Accepting,
    BioPeer,
    Recorder,
    certfile,
    client_context,
    fd_count,
    fds_settle,
    listening_socket,
    raw_connect,
    read_tls_record,
    record_exception_handler,
    recv_until_eof,
    run,
    server_context,
    set_linger_zero,
    tls_server,
)

# Short timeouts for the handshake/shutdown timeout tests, and how late they may fire.
HANDSHAKE_TIMEOUT = 0.3
SHUTDOWN_TIMEOUT = 0.3
SLACK = 1.5

CLIENT_APIS = ["create_connection", "open_connection", "start_tls"]


async def tls_client(loop, api: str, addr, ctx, server_hostname="localhost", **kwargs):
    """Open a TLS client connection to ``addr`` through ``api``; returns the transport.

    ``start_tls`` connects in plain TCP first and upgrades at once. ``ctx=True`` is the
    default context (``ssl.create_default_context()`` for start_tls).
    """
    if api == "create_connection":
        transport, _ = await loop.create_connection(
            lambda: Recorder(loop), *addr, ssl=ctx, server_hostname=server_hostname,
            **kwargs)
        return transport
    if api == "open_connection":
        _reader, writer = await asyncio.open_connection(
            *addr, ssl=ctx, server_hostname=server_hostname, **kwargs)
        return writer.transport
    assert api == "start_tls"
    if ctx is True:
        ctx = ssl.create_default_context()
    protocol = Recorder(loop)
    plain, _ = await loop.create_connection(lambda: protocol, *addr)
    try:
        return await loop.start_tls(
            plain, protocol, ctx,
            server_hostname=server_hostname if server_hostname is not None else addr[0],
            **kwargs)
    finally:
        if not plain.is_closing():
            plain.close()


async def expect_client_failure(loop, api, addr, ctx, exc_type, **kwargs):
    """Run a client handshake that has to fail; returns ``(exception, seconds)``."""
    start = loop.time()
    with pytest.raises(exc_type) as info:
        transport = await tls_client(loop, api, addr, ctx, **kwargs)
        transport.close()
    return info.value, loop.time() - start


async def good_client_roundtrip(loop, addr, accepting=None):
    """The server still serves: a verified TLS client gets its echo back."""
    client = Recorder(loop)
    transport, _ = await loop.create_connection(
        lambda: client, *addr, ssl=client_context(), server_hostname="localhost")
    transport.write(b"still serving")
    assert await client.received(13) == b"still serving"
    transport.close()
    assert await asyncio.wait_for(client.lost, TIMEOUT) is None
    if accepting is not None:
        await asyncio.wait_for(accepting.all_lost(), TIMEOUT)


def client_hello(ctx=None, server_hostname="localhost") -> bytes:
    """The first flight of a TLS client (a whole ClientHello record)."""
    ctx = ctx or client_context()
    outgoing = ssl.MemoryBIO()
    sslobj = ctx.wrap_bio(ssl.MemoryBIO(), outgoing, server_hostname=server_hostname)
    with pytest.raises(ssl.SSLWantReadError):
        sslobj.do_handshake()
    return outgoing.read()


# -- a peer that never answers ------------------------------------------------------------


@pytest.mark.parametrize("api", CLIENT_APIS)
def test_handshake_timeout_client(loop, client_ctx, api):
    async def main():
        errors = record_exception_handler(loop)
        # listening, never accepting: the kernel completes TCP, nobody answers TLS
        with listening_socket() as lsock:
            before = fd_count()
            exc, elapsed = await expect_client_failure(
                loop, api, lsock.getsockname(), client_ctx, ConnectionAbortedError,
                ssl_handshake_timeout=HANDSHAKE_TIMEOUT)
            assert type(exc) is ConnectionAbortedError
            assert str(exc) == (
                f"SSL handshake is taking longer than {HANDSHAKE_TIMEOUT} seconds: "
                "aborting the connection")
            assert HANDSHAKE_TIMEOUT * 0.9 <= elapsed < HANDSHAKE_TIMEOUT + SLACK
            assert await fds_settle(before) == before
        assert errors == []

    run(loop, main())


def test_handshake_timeout_server(loop, server_ctx):
    async def main():
        errors = record_exception_handler(loop)
        accepting = Accepting(loop, echo=True)
        async with tls_server(loop, server_ctx, accepting,
                              ssl_handshake_timeout=HANDSHAKE_TIMEOUT) as (_s, addr, _f):
            before = fd_count()
            sock = await raw_connect(loop, addr)
            start = loop.time()
            try:
                # the client says nothing; the server gives up and closes
                assert await recv_until_eof(loop, sock) == b""
            finally:
                sock.close()
            elapsed = loop.time() - start
            assert HANDSHAKE_TIMEOUT * 0.9 <= elapsed < HANDSHAKE_TIMEOUT + SLACK
            assert len(accepting.protocols) == 1
            assert accepting.protocols[0].events == []  # connection_made never called
            assert await fds_settle(before) == before
            await good_client_roundtrip(loop, addr, accepting)
        assert errors == []

    run(loop, main())


@pytest.mark.parametrize("api", CLIENT_APIS)
def test_cancel_during_handshake(loop, client_ctx, api):
    async def main():
        errors = record_exception_handler(loop)
        with listening_socket() as lsock:
            before = fd_count()
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(
                    tls_client(loop, api, lsock.getsockname(), client_ctx), 0.2)
            assert await fds_settle(before) == before
        assert errors == []

    run(loop, main())


# -- a peer that sends garbage ------------------------------------------------------------


@pytest.mark.parametrize("api", CLIENT_APIS)
@pytest.mark.parametrize(
    ("garbage", "reason", "text"),
    [
        (b"HTTP/1.1 400 Bad Request\r\n\r\n", "WRONG_VERSION_NUMBER", "wrong version number"),
        (b"\x16\x03\x03\x00\x04\x63\x00\x00\x00", "UNEXPECTED_MESSAGE", "unexpected message"),
    ],
    ids=["http", "bad-handshake-record"],
)
def test_garbage_instead_of_server_hello(loop, client_ctx, api, garbage, reason, text):
    async def main():
        errors = record_exception_handler(loop)
        with listening_socket() as lsock:
            async def peer():
                sock, _ = await loop.sock_accept(lsock)
                with sock:
                    await read_tls_record(loop, sock)
                    await loop.sock_sendall(sock, garbage)
                    return await recv_until_eof(loop, sock)

            peer_task = loop.create_task(peer())
            before = fd_count()
            exc, _elapsed = await expect_client_failure(
                loop, api, lsock.getsockname(), client_ctx, ssl.SSLError)
            assert type(exc) is ssl.SSLError
            assert exc.library == "SSL"
            assert exc.reason == reason
            assert str(exc).startswith(f"[SSL: {reason}] {text} (_ssl.c:")
            # the client closed its socket; the peer sees EOF (no alert is flushed)
            assert await asyncio.wait_for(peer_task, TIMEOUT) == b""
            assert await fds_settle(before) == before
        assert errors == []

    run(loop, main())


@pytest.mark.parametrize(
    "garbage",
    [b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n", b"\x16\x03\x01\x00\x04\x01\x00\x00\x00"],
    ids=["http", "bad-client-hello"],
)
@pytest.mark.parametrize("debug", [False, True], ids=["nodebug", "debug"])
def test_garbage_instead_of_client_hello(loop, server_ctx, garbage, debug):
    loop.set_debug(debug)

    async def main():
        errors = record_exception_handler(loop)
        accepting = Accepting(loop, echo=True)
        async with tls_server(loop, server_ctx, accepting) as (_server, addr, _f):
            before = fd_count()
            sock = await raw_connect(loop, addr)
            try:
                await loop.sock_sendall(sock, garbage)
                # the server fails the handshake and closes without a word
                assert await recv_until_eof(loop, sock) == b""
            finally:
                sock.close()
            assert await fds_settle(before) == before
            assert accepting.protocols[0].events == []
            await good_client_roundtrip(loop, addr, accepting)
        return errors

    errors = run(loop, main())
    if not debug:
        assert errors == []
    else:
        # in debug mode asyncio reports the failed incoming connection
        assert len(errors) == 1
        assert errors[0]["message"] == "Error on transport creation for incoming connection"
        assert type(errors[0]["exception"]) is ssl.SSLError


# -- a peer that closes mid-handshake -----------------------------------------------------


@pytest.mark.parametrize("api", CLIENT_APIS)
@pytest.mark.parametrize("how", ["fin", "rst"])
def test_server_closes_mid_handshake(loop, client_ctx, api, how):
    async def main():
        errors = record_exception_handler(loop)
        with listening_socket() as lsock:
            async def peer():
                sock, _ = await loop.sock_accept(lsock)
                await read_tls_record(loop, sock)  # the whole ClientHello, then close
                if how == "rst":
                    set_linger_zero(sock)
                sock.close()

            peer_task = loop.create_task(peer())
            before = fd_count()
            exc, _elapsed = await expect_client_failure(
                loop, api, lsock.getsockname(), client_ctx, ConnectionResetError)
            await peer_task
            assert type(exc) is ConnectionResetError
            if how == "fin":
                # sslproto raises the class itself on EOF during the handshake
                assert exc.args == ()
            else:
                assert exc.args == (104, "Connection reset by peer")
                assert str(exc) == "[Errno 104] Connection reset by peer"
            assert await fds_settle(before) == before
        assert errors == []

    run(loop, main())


@pytest.mark.parametrize("how", ["fin", "rst"])
@pytest.mark.parametrize("sent", ["nothing", "half-hello", "whole-hello"])
def test_client_closes_mid_handshake(loop, server_ctx, how, sent):
    hello = client_hello()

    async def main():
        errors = record_exception_handler(loop)
        accepting = Accepting(loop, echo=True)
        async with tls_server(loop, server_ctx, accepting) as (_server, addr, _f):
            before = fd_count()
            sock = await raw_connect(loop, addr)
            try:
                if sent == "half-hello":
                    await loop.sock_sendall(sock, hello[: len(hello) // 2])
                elif sent == "whole-hello":
                    await loop.sock_sendall(sock, hello)
                    # the ServerHello flight: the server is mid-handshake now
                    assert (await read_tls_record(loop, sock))[0] == 0x16
                if how == "rst":
                    set_linger_zero(sock)
            finally:
                sock.close()
            assert await fds_settle(before) == before
            assert [p.events for p in accepting.protocols] == [[]]
            await good_client_roundtrip(loop, addr, accepting)
        assert errors == []

    run(loop, main())


# -- certificates that fail verification --------------------------------------------------

VERIFY_CASES = {
    # ssl=True: the default context does not trust the test CA
    "untrusted-ca": (None, True, "localhost", 20, "unable to get local issuer certificate"),
    "hostname-mismatch": (None, "ca", "example.com", 62,
                          "Hostname mismatch, certificate is not valid for 'example.com'."),
    # no server_hostname: the host, an IP address the certificate does not name
    "ip-mismatch": (None, "ca", None, 64,
                    "IP address mismatch, certificate is not valid for '127.0.0.1'."),
    "self-signed": ((ONLYCERT, ONLYKEY), "ca", "localhost", 18, "self-signed certificate"),
}


@pytest.mark.parametrize("api", CLIENT_APIS)
@pytest.mark.parametrize("case", list(VERIFY_CASES))
def test_certificate_verification_fails(loop, client_ctx, api, case):
    server_cert, ctx, hostname, code, message = VERIFY_CASES[case]
    server_ctx = server_context(*server_cert) if server_cert else server_context()
    if ctx == "ca":
        ctx = client_ctx

    async def main():
        errors = record_exception_handler(loop)
        accepting = Accepting(loop, echo=True)
        async with tls_server(loop, server_ctx, accepting) as (_server, addr, _f):
            before = fd_count()
            exc, _elapsed = await expect_client_failure(
                loop, api, addr, ctx, ssl.SSLCertVerificationError,
                server_hostname=hostname)
            assert type(exc) is ssl.SSLCertVerificationError
            assert isinstance(exc, ssl.CertificateError)
            assert exc.reason == "CERTIFICATE_VERIFY_FAILED"
            assert exc.verify_code == code
            assert exc.verify_message == message
            assert str(exc).startswith(
                f"[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: {message} (")
            # the server side of the failed connection goes away as well
            assert await fds_settle(before) == before
            assert [p.events for p in accepting.protocols] == [[]]
        assert errors == []

    run(loop, main())


@pytest.mark.parametrize("tls12", [False, True], ids=["tls1.3", "tls1.2"])
def test_client_certificate_missing(loop, server_ctx, client_ctx, tls12):
    server_ctx.verify_mode = ssl.CERT_REQUIRED
    server_ctx.load_verify_locations(certfile(SIGNING_CA))
    if tls12:
        server_ctx.maximum_version = ssl.TLSVersion.TLSv1_2

    async def main():
        errors = record_exception_handler(loop)
        accepting = Accepting(loop, echo=True)
        async with tls_server(loop, server_ctx, accepting) as (_server, addr, _f):
            before = fd_count()
            client = Recorder(loop)
            connect = loop.create_connection(
                lambda: client, *addr, ssl=client_ctx, server_hostname="localhost")
            if tls12:
                # the server refuses before its Finished: the client's handshake fails
                with pytest.raises(ConnectionResetError) as info:
                    await connect
                assert info.value.args == ()
                assert client.events == []
            else:
                # TLS 1.3: the client is done first, then the server refuses and closes
                await connect
                assert await asyncio.wait_for(client.lost, TIMEOUT) is None
                assert client.events == ["made", "eof", "lost"]
            assert await fds_settle(before) == before
            assert [p.events for p in accepting.protocols] == [[]]
        assert errors == []

    run(loop, main())


def test_client_certificate_from_other_ca(loop, server_ctx, client_ctx):
    """The server trusts only the self-signed certificate, the client presents one signed
    by the test CA: the server's handshake fails."""
    server_ctx.verify_mode = ssl.CERT_REQUIRED
    server_ctx.load_verify_locations(certfile(ONLYCERT))
    server_ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    client_ctx.load_cert_chain(certfile(SIGNED_CERTFILE2))

    async def main():
        errors = record_exception_handler(loop)
        accepting = Accepting(loop, echo=True)
        async with tls_server(loop, server_ctx, accepting) as (_server, addr, _f):
            before = fd_count()
            with pytest.raises(ConnectionResetError):
                await loop.create_connection(
                    asyncio.Protocol, *addr, ssl=client_ctx, server_hostname="localhost")
            assert await fds_settle(before) == before
            assert [p.events for p in accepting.protocols] == [[]]
        assert errors == []

    run(loop, main())


# -- after the handshake ------------------------------------------------------------------


def test_shutdown_timeout(loop, server_ctx, client_ctx):
    """The peer never answers our close_notify: connection_lost gets asyncio's
    TimeoutError after ssl_shutdown_timeout."""

    async def main():
        errors = record_exception_handler(loop)
        with listening_socket() as lsock:
            async def peer(ready, release):
                sock, _ = await loop.sock_accept(lsock)
                with sock:
                    bio = BioPeer(loop, sock, server_ctx, server_side=True)
                    await bio.handshake()
                    ready.set_result(None)
                    await release  # reads nothing more: close_notify stays unanswered

            ready, release = loop.create_future(), loop.create_future()
            peer_task = loop.create_task(peer(ready, release))
            before = fd_count()
            client = Recorder(loop)
            transport, _ = await loop.create_connection(
                lambda: client, *lsock.getsockname(), ssl=client_ctx,
                server_hostname="localhost", ssl_shutdown_timeout=SHUTDOWN_TIMEOUT)
            await asyncio.wait_for(ready, TIMEOUT)
            start = loop.time()
            transport.close()
            exc = await asyncio.wait_for(client.lost, TIMEOUT)
            elapsed = loop.time() - start
            release.set_result(None)
            await peer_task
            assert type(exc) is TimeoutError
            assert exc.args == ("SSL shutdown timed out",)
            assert SHUTDOWN_TIMEOUT * 0.9 <= elapsed < SHUTDOWN_TIMEOUT + SLACK
            assert client.events == ["made", "lost"]
            assert await fds_settle(before) == before
        assert errors == []

    run(loop, main())


@pytest.mark.parametrize("how", ["fin", "rst"])
def test_peer_drops_connection_without_close_notify(loop, server_ctx, client_ctx, how):
    async def main():
        errors = record_exception_handler(loop)
        with listening_socket() as lsock:
            async def peer():
                sock, _ = await loop.sock_accept(lsock)
                bio = BioPeer(loop, sock, server_ctx, server_side=True)
                await bio.handshake()
                await bio.send(b"last words")
                assert await bio.recv(4) == b"done"
                if how == "rst":
                    set_linger_zero(sock)
                sock.close()  # no close_notify

            peer_task = loop.create_task(peer())
            before = fd_count()
            client = Recorder(loop)
            transport, _ = await loop.create_connection(
                lambda: client, *lsock.getsockname(), ssl=client_ctx,
                server_hostname="localhost")
            assert await client.received(10) == b"last words"
            transport.write(b"done")
            exc = await asyncio.wait_for(client.lost, TIMEOUT)
            await peer_task
            if how == "fin":
                # a plain EOF reaches the protocol as eof_received, then a clean close
                assert exc is None
                assert client.events == ["made", "data", "eof", "lost"]
            else:
                assert type(exc) is ConnectionResetError
                assert exc.args == (104, "Connection reset by peer")
                assert client.events == ["made", "data", "lost"]
            assert transport.is_closing()
            assert await fds_settle(before) == before
        assert errors == []

    run(loop, main())


def test_write_after_peer_reset(loop, server_ctx, client_ctx):
    """Writes to a TLS transport whose connection was reset are dropped, as asyncio
    does after connection_lost; nothing is raised."""

    async def main():
        errors = record_exception_handler(loop)
        with listening_socket() as lsock:
            async def peer():
                sock, _ = await loop.sock_accept(lsock)
                bio = BioPeer(loop, sock, server_ctx, server_side=True)
                await bio.handshake()
                assert await bio.recv(2) == b"hi"
                set_linger_zero(sock)
                sock.close()

            peer_task = loop.create_task(peer())
            client = Recorder(loop)
            transport, _ = await loop.create_connection(
                lambda: client, *lsock.getsockname(), ssl=client_ctx,
                server_hostname="localhost")
            transport.write(b"hi")
            exc = await asyncio.wait_for(client.lost, TIMEOUT)
            await peer_task
            assert type(exc) is ConnectionResetError
            transport.write(b"into the void")
            transport.close()
            assert client.events == ["made", "lost"]
        assert errors == []

    run(loop, main())


# -- load ---------------------------------------------------------------------------------


def test_many_sequential_tls_connections(loop, server_ctx, client_ctx):
    count = 200

    async def main():
        errors = record_exception_handler(loop)
        async with tls_server(loop, server_ctx) as (_server, addr, accepting):
            await good_client_roundtrip(loop, addr, accepting)  # warm up
            before = fd_count()
            for i in range(count):
                client = Recorder(loop)
                transport, _ = await loop.create_connection(
                    lambda client=client: client, *addr, ssl=client_ctx,
                    server_hostname="localhost")
                payload = i.to_bytes(2, "big")
                transport.write(payload)
                assert await client.received(2) == payload
                transport.close()
                assert await asyncio.wait_for(client.lost, TIMEOUT) is None
                if i % 50 == 49:
                    assert await fds_settle(before) == before, f"after {i + 1} connections"
            await asyncio.wait_for(accepting.all_lost(), TIMEOUT)
            assert len(accepting.protocols) == count + 1
            assert all(p.events == ["made", "data", "eof", "lost"]
                       for p in accepting.protocols)
            assert await fds_settle(before) == before
        assert errors == []

    run(loop, main(), timeout=30)


def test_concurrent_tls_connections(loop, server_ctx, client_ctx):
    count = 50

    async def one(addr, i):
        reader, writer = await asyncio.open_connection(
            *addr, ssl=client_ctx, server_hostname="localhost")
        payload = b"%05d" % i
        writer.write(payload)
        got = await reader.readexactly(5)
        writer.close()
        await writer.wait_closed()
        return got == payload

    async def main():
        errors = record_exception_handler(loop)
        async with tls_server(loop, server_ctx) as (_server, addr, accepting):
            before = fd_count()
            results = await asyncio.gather(*(one(addr, i) for i in range(count)))
            assert results == [True] * count
            await asyncio.wait_for(accepting.all_lost(), TIMEOUT)
            assert await fds_settle(before) == before
        assert errors == []

    run(loop, main(), timeout=30)


def test_failed_handshakes_leak_nothing(loop, server_ctx, client_ctx):
    """Many failing handshakes of every kind, then the descriptor count is where it was."""
    hello = client_hello()

    async def main():
        errors = record_exception_handler(loop)
        accepting = Accepting(loop, echo=True)
        async with tls_server(loop, server_ctx, accepting,
                              ssl_handshake_timeout=HANDSHAKE_TIMEOUT) as (_s, addr, _f):
            await good_client_roundtrip(loop, addr)  # warm up
            before = fd_count()
            for i in range(30):
                kind = i % 3
                if kind == 0:  # the client refuses the certificate
                    with pytest.raises(ssl.SSLCertVerificationError):
                        await loop.create_connection(
                            asyncio.Protocol, *addr, ssl=client_ctx,
                            server_hostname="example.com")
                else:  # the server gets garbage, or half a hello and a reset
                    sock = await raw_connect(loop, addr)
                    try:
                        if kind == 1:
                            await loop.sock_sendall(sock, b"\0" * 64)
                            assert await recv_until_eof(loop, sock) == b""
                        else:
                            await loop.sock_sendall(sock, hello[:40])
                            set_linger_zero(sock)
                    finally:
                        sock.close()
            assert await fds_settle(before) == before
            assert all(not p.made.done() for p in accepting.protocols[1:])
            await good_client_roundtrip(loop, addr, accepting)
        assert errors == []

    run(loop, main(), timeout=20)
