"""The low-level socket coroutines: sock_recv, sock_sendall, sock_connect, ..."""

from __future__ import annotations

import asyncio
import errno
import hashlib
import os
import socket

import pytest
from _util import open_fd_count


@pytest.fixture
def pair():
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    yield a, b
    a.close()
    b.close()


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


def test_sock_sendall_large_payload_to_a_slow_reader(loop, pair):
    a, b = pair
    a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 32 * 1024)
    b.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 * 1024)
    payload = os.urandom(1024) * (8 * 1024)  # 8 MiB

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
            asyncio.gather(loop.sock_sendall(a, payload), slow_reader()), 30
        )
        return sent, received

    sent, (total, digest) = loop.run_until_complete(main())
    assert sent is None
    assert total == len(payload)
    assert digest == hashlib.sha256(payload).hexdigest()


def test_sock_sendall_empty(loop, pair):
    a, b = pair
    assert loop.run_until_complete(loop.sock_sendall(a, b"")) is None


def test_sock_sendall_to_a_closed_peer_fails(loop, pair):
    a, b = pair
    b.close()
    with pytest.raises((BrokenPipeError, ConnectionResetError)):
        loop.run_until_complete(
            asyncio.wait_for(loop.sock_sendall(a, b"x" * (4 * 1024 * 1024)), 5)
        )


def test_debug_mode_refuses_blocking_sockets(loop, pair):
    a, b = pair
    loop.set_debug(True)
    b.setblocking(True)
    with pytest.raises(ValueError, match="the socket must be non-blocking"):
        loop.run_until_complete(loop.sock_recv(b, 1))


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
    assert after == before


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
    assert after == before
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


# -- datagram sockets ----------------------------------------------------------------------


@pytest.fixture
def udp_pair():
    socks = []
    for _ in range(2):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        sock.setblocking(False)
        socks.append(sock)
    yield socks
    for sock in socks:
        sock.close()


def test_udp_sock_sendto_and_sock_recvfrom(loop, udp_pair):
    a, b = udp_pair

    async def main():
        recv = asyncio.ensure_future(loop.sock_recvfrom(b, 100))
        await asyncio.sleep(0)
        sent = await loop.sock_sendto(a, b"datagram", b.getsockname())
        return sent, await asyncio.wait_for(recv, 5)

    sent, (data, addr) = loop.run_until_complete(main())
    assert sent == 8
    assert data == b"datagram"
    assert addr == a.getsockname()


def test_udp_sock_recvfrom_into(loop, udp_pair):
    a, b = udp_pair
    buf = bytearray(16)

    async def main():
        await loop.sock_sendto(a, b"into", b.getsockname())
        return await asyncio.wait_for(loop.sock_recvfrom_into(b, buf), 5)

    n, addr = loop.run_until_complete(main())
    assert n == 4
    assert buf[:4] == b"into"
    assert addr == a.getsockname()


def test_udp_sock_recvfrom_into_with_nbytes(loop, udp_pair):
    a, b = udp_pair
    buf = bytearray(16)

    async def main():
        await loop.sock_sendto(a, b"truncated", b.getsockname())
        return await asyncio.wait_for(loop.sock_recvfrom_into(b, buf, 5), 5)

    n, _ = loop.run_until_complete(main())
    assert n == 5
    assert buf[:n] == b"trunc"
    assert buf[n:] == bytes(16 - n)
