"""A socket waited on again right after a ``sock_recv`` was served, or closed instead.

aioxide keeps the reader's registration in the poller until the end of the iteration
that served it, so a ``sock_recv`` waiting again on the same socket costs no
``epoll_ctl``. These tests are the cases where keeping it would be wrong: the socket is
closed and its number reused within the same step, or closed while a duplicate keeps
its file open.
"""

from __future__ import annotations

import asyncio
import gc
import os
import socket
import warnings

import pytest

pytestmark = pytest.mark.timeout(30)


def _nonblocking_pair():
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    return a, b


def _socket_at(number: int, sock: socket.socket) -> socket.socket:
    """A socket object on descriptor `number` for `sock`'s file (`sock` itself if it got
    that number; else `number` must be free, and `sock` is closed)."""
    if sock.fileno() == number:
        return sock
    os.dup2(sock.fileno(), number)
    sock.close()
    moved = socket.socket(fileno=number)
    moved.setblocking(False)
    return moved


def test_closed_socket_whose_number_is_reused_in_the_same_step(loop):
    a, b = _nonblocking_pair()
    c = d = None

    async def main():
        nonlocal c, d
        loop.call_later(0.01, a.send, b"first")
        assert await loop.sock_recv(b, 100) == b"first"
        # Same step: close the socket just served and put a new one at its number.
        number = b.fileno()
        b.close()
        fresh, d = _nonblocking_pair()
        if d.fileno() == number:
            fresh, d = d, fresh
        c = _socket_at(number, fresh)
        assert c.fileno() == number
        loop.call_later(0.05, d.send, b"second")
        async with asyncio.timeout(5):  # in this very step, unlike wait_for's new task
            return await loop.sock_recv(c, 100)

    try:
        assert loop.run_until_complete(main()) == b"second"
    finally:
        for s in (a, b, c, d):
            if s is not None:
                s.close()


def test_served_socket_closed_while_a_duplicate_keeps_it_open(loop, is_aioxide):
    a, b = _nonblocking_pair()
    kept = None
    other_a, other_b = _nonblocking_pair()

    async def main():
        nonlocal kept
        loop.call_later(0.01, a.send, b"first")
        assert await loop.sock_recv(b, 100) == b"first"
        kept = b.dup()
        b.close()
        # The file is still open through `kept`; data for it must not disturb the loop.
        a.send(b"for the duplicate")
        await asyncio.sleep(0.05)
        before = loop._counters()[0] if is_aioxide else None
        await asyncio.sleep(0.2)
        if is_aioxide:
            # A loop woken by a stale registration would iterate thousands of times.
            assert loop._counters()[0] - before < 50
        loop.call_later(0.01, other_a.send, b"other")
        return await asyncio.wait_for(loop.sock_recv(other_b, 100), 5)

    try:
        assert loop.run_until_complete(main()) == b"other"
        assert kept.recv(100) == b"for the duplicate"
    finally:
        for s in (a, b, kept, other_a, other_b):
            if s is not None:
                s.close()


def test_rewait_on_the_same_socket_many_times(loop):
    a, b = _nonblocking_pair()

    async def echo(sock):
        while data := await loop.sock_recv(sock, 100):
            await loop.sock_sendall(sock, data)

    async def main(sock):
        server = asyncio.ensure_future(echo(sock))
        for i in range(500):
            await loop.sock_sendall(a, b"%d" % i)
            assert await loop.sock_recv(a, 100) == b"%d" % i
        a.shutdown(socket.SHUT_WR)
        await asyncio.wait_for(server, 5)

    try:
        loop.run_until_complete(main(b))
        # The loop holds no reference to the served socket once the run is over: dropping
        # the last one closes its descriptor.
        fd = b.fileno()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)  # dropped unclosed on purpose
            del b
            gc.collect()
        with pytest.raises(OSError):
            os.fstat(fd)
    finally:
        a.close()
