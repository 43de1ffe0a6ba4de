"""The low-level socket coroutines: sock_recv, sock_sendall, sock_connect, ..."""

from __future__ import annotations

import asyncio
import errno
import hashlib
import os
import socket
import struct

import pytest
from _util import open_fd_count


@pytest.fixture
def listener():
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    sock.setblocking(False)
    yield sock
    sock.close()


def nonblocking_tcp():
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    return sock


async def recv_exactly(loop, sock, n):
    chunks = []
    while n:
        chunk = await loop.sock_recv(sock, min(n, 65536))
        assert chunk, "peer closed early"
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


# -- stream sockets ------------------------------------------------------------------------


def test_sock_recv_sock_sendall_ping_pong(loop, pair):
    a, b = pair
    rounds = 100

    async def pinger():
        for i in range(rounds):
            await loop.sock_sendall(a, b"ping%03d" % i)
            assert await recv_exactly(loop, a, 7) == b"pong%03d" % i

    async def ponger():
        for i in range(rounds):
            assert await recv_exactly(loop, b, 7) == b"ping%03d" % i
            await loop.sock_sendall(b, b"pong%03d" % i)

    async def main():
        await asyncio.wait_for(asyncio.gather(pinger(), ponger()), 10)

    loop.run_until_complete(main())


def test_sock_recv_waits_for_data(loop, pair):
    a, b = pair

    async def main():
        task = asyncio.ensure_future(loop.sock_recv(b, 100))
        await asyncio.sleep(0.01)
        assert not task.done()
        a.send(b"late")
        return await asyncio.wait_for(task, 5)

    assert loop.run_until_complete(main()) == b"late"


def test_sock_recv_returns_empty_bytes_at_eof(loop, pair):
    a, b = pair

    async def main():
        task = asyncio.ensure_future(loop.sock_recv(b, 100))
        await asyncio.sleep(0)
        a.close()
        return await asyncio.wait_for(task, 5)

    assert loop.run_until_complete(main()) == b""


def test_sock_recv_into(loop, pair):
    a, b = pair
    buf = bytearray(10)

    async def main():
        task = asyncio.ensure_future(loop.sock_recv_into(b, buf))
        await asyncio.sleep(0)
        await loop.sock_sendall(a, b"abcdef")
        return await asyncio.wait_for(task, 5)

    n = loop.run_until_complete(main())
    assert n == 6
    assert buf[:n] == b"abcdef"


def test_sock_recv_into_memoryview(loop, pair):
    a, b = pair
    buf = bytearray(b"..........")
    a.send(b"xyz")
    n = loop.run_until_complete(loop.sock_recv_into(b, memoryview(buf)[2:]))
    assert n == 3
    assert buf == b"..xyz....."


def test_sock_accept_and_sock_connect(loop, listener):
    client = nonblocking_tcp()

    async def main():
        accepted, _ = await asyncio.wait_for(
            asyncio.gather(
                loop.sock_accept(listener),
                loop.sock_connect(client, listener.getsockname()),
            ),
            5,
        )
        conn, addr = accepted
        with conn:
            assert conn.gettimeout() == 0  # handed back non-blocking
            assert not os.get_blocking(conn.fileno())
            assert not os.get_inheritable(conn.fileno())
            assert (conn.family, conn.type, conn.proto) == \
                (listener.family, listener.type, listener.proto)
            assert addr == client.getsockname()
            await loop.sock_sendall(client, b"over tcp")
            return await recv_exactly(loop, conn, 8)

    try:
        assert loop.run_until_complete(main()) == b"over tcp"
    finally:
        client.close()


def test_sock_connect_resolves_a_host_name(loop, listener):
    client = nonblocking_tcp()
    port = listener.getsockname()[1]

    async def main():
        accept = asyncio.ensure_future(loop.sock_accept(listener))
        await asyncio.wait_for(loop.sock_connect(client, ("localhost", port)), 5)
        conn, _ = await asyncio.wait_for(accept, 5)
        conn.close()
        return client.getpeername()

    try:
        assert loop.run_until_complete(main()) == ("127.0.0.1", port)
    finally:
        client.close()


def test_sock_connect_to_a_closed_port(loop):
    # A bound socket that does not listen: connecting to its port is refused.
    closed = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    closed.bind(("127.0.0.1", 0))
    client = nonblocking_tcp()
    try:
        with pytest.raises(ConnectionRefusedError) as info:
            loop.run_until_complete(
                asyncio.wait_for(loop.sock_connect(client, closed.getsockname()), 5)
            )
        assert info.value.errno == errno.ECONNREFUSED
    finally:
        client.close()
        closed.close()


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
def test_sock_sendall_large_payload_to_a_slow_reader(loop, pair, kind):
    a, b = pair
    a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 32 * 1024)
    b.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 * 1024)
    payload = os.urandom(1024) * (8 * 1024)  # 8 MiB
    data = kind(payload)

    async def slow_reader():
        digest = hashlib.sha256()
        total = 0
        while total < len(payload):
            chunk = await loop.sock_recv(b, 65536)
            assert chunk
            digest.update(chunk)
            total += len(chunk)
            await asyncio.sleep(0)  # let the writer find a full buffer
        return total, digest.hexdigest()

    async def main():
        sent, received = await asyncio.wait_for(
            asyncio.gather(loop.sock_sendall(a, data), slow_reader()), 30
        )
        return sent, received

    sent, (total, digest) = loop.run_until_complete(main())
    assert sent is None
    assert total == len(payload)
    assert digest == hashlib.sha256(payload).hexdigest()


def test_socket_subclass_methods_are_used(loop):
    calls = []

    class CountingSocket(socket.socket):
        def recv(self, n, *args):
            calls.append(("recv", n))
            return super().recv(n, *args)

        def send(self, data, *args):
            calls.append(("send", len(data)))
            return super().send(data, *args)

    raw_a, raw_b = socket.socketpair()
    a = CountingSocket(fileno=raw_a.detach())
    b = CountingSocket(fileno=raw_b.detach())
    try:
        a.setblocking(False)
        b.setblocking(False)

        async def main():
            recv = asyncio.ensure_future(loop.sock_recv(b, 10))
            await asyncio.sleep(0)
            await loop.sock_sendall(a, b"sub")
            return await asyncio.wait_for(recv, 5)

        assert loop.run_until_complete(main()) == b"sub"
        assert ("send", 3) in calls
        assert ("recv", 10) in calls
    finally:
        a.close()
        b.close()


def test_sock_recv_while_socket_socket_is_patched_with_a_function(loop, pair, monkeypatch):
    # A test may patch socket.socket with a factory function (asyncssh's TUN/TAP mocks
    # do); sockets made before still work with sock_recv and sock_sendall.
    a, b = pair
    monkeypatch.setattr(socket, "socket", lambda *args, **kwargs: None)

    async def main():
        await loop.sock_sendall(a, b"patched")
        return await asyncio.wait_for(loop.sock_recv(b, 100), 5)

    assert loop.run_until_complete(main()) == b"patched"


def test_sock_sendall_empty(loop, pair):
    a, b = pair
    assert loop.run_until_complete(loop.sock_sendall(a, b"")) is None


def test_sock_sendall_to_a_closed_peer_fails(loop, pair):
    a, b = pair
    b.close()
    with pytest.raises((BrokenPipeError, ConnectionResetError)) as info:
        loop.run_until_complete(
            asyncio.wait_for(loop.sock_sendall(a, b"x" * (4 * 1024 * 1024)), 5)
        )
    # A real OSError, as socket.send raises it: errno and strerror are set.
    assert info.value.errno in (errno.EPIPE, errno.ECONNRESET)
    assert info.value.strerror


@pytest.mark.parametrize(
    "data, error, message",
    [
        ("text", TypeError, "a bytes-like object is required, not 'str'"),
        (None, TypeError, "a bytes-like object is required, not 'NoneType'"),
        (memoryview(b"abcdef")[::2], BufferError, "underlying buffer is not C-contiguous"),
    ],
)
def test_sock_sendall_of_what_send_refuses(loop, pair, data, error, message):
    # The error and message of socket.send, which asyncio calls first; nothing is sent.
    a, b = pair
    with pytest.raises(error, match=message):
        loop.run_until_complete(asyncio.wait_for(loop.sock_sendall(a, data), 5))
    b.setblocking(False)
    with pytest.raises(BlockingIOError):
        b.recv(10)


@pytest.mark.parametrize("data", [b"", bytearray(), memoryview(b"")])
def test_empty_sock_sendall_to_a_closed_peer_still_sends_once(loop, pair, data):
    # asyncio always makes the first send, even of nothing: a dead connection raises.
    a, b = pair
    b.close()
    with pytest.raises(BrokenPipeError):
        loop.run_until_complete(asyncio.wait_for(loop.sock_sendall(a, data), 5))


def test_sock_recv_on_a_reset_connection(loop, listener):
    client = socket.create_connection(listener.getsockname(), timeout=5)
    client.setblocking(False)
    listener.setblocking(True)
    conn, _ = listener.accept()
    # Close with SO_LINGER 0: the peer gets a RST instead of a FIN.
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()
    try:
        with pytest.raises(ConnectionResetError) as info:
            loop.run_until_complete(asyncio.wait_for(loop.sock_recv(client, 100), 5))
        assert info.value.errno == errno.ECONNRESET
        assert str(info.value) == f"[Errno {errno.ECONNRESET}] {os.strerror(errno.ECONNRESET)}"
    finally:
        client.close()


def test_debug_mode_refuses_blocking_sockets(loop, pair):
    a, b = pair
    loop.set_debug(True)
    b.setblocking(True)
    with pytest.raises(ValueError, match="the socket must be non-blocking"):
        loop.run_until_complete(loop.sock_recv(b, 1))


def test_full_duplex_on_the_same_sockets(loop, pair):
    # Each socket has a reader and a writer waiting at the same time.
    a, b = pair
    for sock in pair:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16 * 1024)
    to_b = os.urandom(1024 * 1024)
    to_a = os.urandom(1024 * 1024)

    async def main():
        return await asyncio.wait_for(
            asyncio.gather(
                loop.sock_sendall(a, to_b),
                loop.sock_sendall(b, to_a),
                recv_exactly(loop, a, len(to_a)),
                recv_exactly(loop, b, len(to_b)),
            ),
            10,
        )

    _, _, got_a, got_b = loop.run_until_complete(main())
    assert got_a == to_a
    assert got_b == to_b


def test_unix_socket_connect_and_accept(loop, tmp_path):
    path = str(tmp_path / "sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)
    server.setblocking(False)
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.setblocking(False)

    async def main():
        (conn, _), _ = await asyncio.wait_for(
            asyncio.gather(loop.sock_accept(server), loop.sock_connect(client, path)), 5
        )
        with conn:
            await loop.sock_sendall(conn, b"unix")
            return await recv_exactly(loop, client, 4)

    try:
        assert loop.run_until_complete(main()) == b"unix"
    finally:
        client.close()
        server.close()


def test_ssl_sockets_are_refused(loop):
    ssl = pytest.importorskip("ssl")
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    wrapped = ctx.wrap_socket(raw, do_handshake_on_connect=False, server_hostname="x")
    try:
        wrapped.setblocking(False)
        with pytest.raises(TypeError, match="Socket cannot be of type SSLSocket"):
            loop.run_until_complete(loop.sock_recv(wrapped, 1))
        with pytest.raises(TypeError, match="Socket cannot be of type SSLSocket"):
            loop.run_until_complete(loop.sock_sendall(wrapped, b"x"))
    finally:
        wrapped.close()


# -- cancellation --------------------------------------------------------------------------


def test_cancelled_sock_recv_removes_its_reader(loop, pair):
    a, b = pair

    async def main():
        before = open_fd_count()
        task = asyncio.ensure_future(loop.sock_recv(b, 100))
        await asyncio.sleep(0.01)
        assert not task.done()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # No reader is left behind for the descriptor...
        assert loop.remove_reader(b.fileno()) is False
        # ...and the socket can be read again.
        a.send(b"after cancel")
        data = await asyncio.wait_for(loop.sock_recv(b, 100), 5)
        assert loop.remove_reader(b.fileno()) is False
        return data, before, open_fd_count()

    data, before, after = loop.run_until_complete(main())
    assert data == b"after cancel"
    # At most as many: a leak adds one. (An earlier test's descriptor that another
    # thread closes meanwhile can take one away; seen once under `make test-debug`.)
    assert after <= before


def test_many_cancelled_sock_recv_leak_nothing(loop, pair):
    a, b = pair

    async def one_round():
        task = asyncio.ensure_future(loop.sock_recv(b, 100))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    async def main():
        await one_round()
        before = open_fd_count()
        for _ in range(50):
            await one_round()
        return before, open_fd_count()

    before, after = loop.run_until_complete(main())
    assert after <= before  # as above: a leak of one per round would show as 50
    assert loop.remove_reader(b.fileno()) is False


def test_cancelled_sock_sendall_removes_its_writer(loop, pair):
    a, b = pair
    a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8 * 1024)

    async def main():
        task = asyncio.ensure_future(loop.sock_sendall(a, b"x" * (4 * 1024 * 1024)))
        await asyncio.sleep(0.01)
        assert not task.done()  # the peer does not read: the buffer is full
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return loop.remove_writer(a.fileno())

    assert loop.run_until_complete(main()) is False


def test_sock_recv_alternating_big_and_small_reads(loop, pair):
    # Big reads go straight into the result (no scratch copy) once a read was big;
    # every size mix must still give exactly the bytes sent, in order.
    a, b = pair
    messages = [os.urandom(size) for size in (40_000, 10, 60_000, 1, 20_000, 3, 50_000)]

    async def main():
        got = []
        for message in messages:
            await loop.sock_sendall(a, message)
            got.append(await recv_exactly(loop, b, len(message)))
        # A big read, then a smaller buffer than what is waiting.
        await loop.sock_sendall(a, messages[0])
        first = await loop.sock_recv(b, 7)
        rest = await recv_exactly(loop, b, len(messages[0]) - len(first))
        got.append(first + rest)
        a.close()
        got.append(await loop.sock_recv(b, 65536))
        return got

    got = loop.run_until_complete(asyncio.wait_for(main(), 30))
    assert got == messages + [messages[0], b""]
