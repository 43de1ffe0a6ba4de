"""Datagram sockets: sock_sendto, sock_recvfrom, sock_recvfrom_into."""

from __future__ import annotations

import asyncio
import socket

import pytest

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
