"""Helpers shared by the transport tests: recording protocols, servers, fd and RSS counts.

Every wait in these tests is on a future set from a protocol callback (or on a socket
operation), bounded by ``asyncio.wait_for``; nothing sleeps to wait for a condition.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gc
import os
import select
import socket
import sys

import pytest
from _protocols import Accepting as Accepting
from _protocols import Recorder as Recorder
from _protocols import pattern as pattern

# Upper bound of any single wait; a test that hits it has failed.
# asyncio's text for a bind that found the address taken; gh-121913 (3.12.5) quotes
# str(exc), errno included.
IN_USE = (f"[errno {errno.EADDRINUSE}] " if sys.version_info >= (3, 12, 5) else "") + \
    "address already in use"

TIMEOUT = 10


def fd_count() -> int:
    """Descriptors this process has open, after collecting garbage."""
    gc.collect()
    return len(os.listdir("/proc/self/fd"))


def rss_bytes() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS in /proc/self/status")


def run(loop: asyncio.AbstractEventLoop, coro, timeout: float = TIMEOUT):
    """Run ``coro`` on ``loop`` to completion, failing after ``timeout`` seconds."""
    return loop.run_until_complete(asyncio.wait_for(coro, timeout))


def ipv6_available() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


def has_reuseport() -> bool:
    if not hasattr(socket, "SO_REUSEPORT"):
        return False
    try:
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    except OSError:
        return False
    return True


def echo_factory(loop):
    return Accepting(loop, echo=True)


@contextlib.asynccontextmanager
async def tcp_server(loop, factory=None, host="127.0.0.1", **kwargs):
    """A server on ``host`` port 0; yields ``(server, address, factory)``. On exit the
    server is closed and every connection it accepted has to be lost."""
    if factory is None:
        factory = echo_factory(loop)
    server = await loop.create_server(factory, host, 0, **kwargs)
    try:
        yield server, server.sockets[0].getsockname()[:2], factory
    finally:
        server.close()
        await server.wait_closed()
        await asyncio.wait_for(factory.all_lost(), TIMEOUT)


async def close_and_wait(proto):
    """Close the protocol's transport and wait for its ``connection_lost``."""
    proto.transport.close()
    return await asyncio.wait_for(proto.lost, TIMEOUT)


@contextlib.contextmanager
def refused_address(family=socket.AF_INET):
    """An address with a bound socket that does not listen: connecting is refused."""
    host = "127.0.0.1" if family == socket.AF_INET else "::1"
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.bind((host, 0))
        yield sock.getsockname()
    finally:
        sock.close()


@contextlib.contextmanager
def blackhole_address():
    """A listening address whose accept queue is full, so a connect to it stays pending
    (the kernel drops the SYN). Skips the test when the backlog cannot be filled."""
    lsock = socket.socket()
    fillers = []
    try:
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(0)
        addr = lsock.getsockname()
        # the first connection always fits in the queue (Linux: one with backlog 0)
        first = socket.create_connection(addr, timeout=TIMEOUT)
        fillers.append(first)
        for _ in range(8):
            probe = socket.socket()
            probe.setblocking(False)
            probe.connect_ex(addr)
            _, writable, _ = select.select([], [probe], [], 0.2)
            if not writable:
                probe.close()  # pending: the queue is full
                break
            fillers.append(probe)
        else:
            pytest.skip("could not fill the backlog of a listening socket")
        yield addr
    finally:
        for s in fillers:
            s.close()
        lsock.close()


def install_resolver(loop, table: dict):
    """Make ``loop.getaddrinfo`` answer for the host names in ``table`` (name -> list of
    ``(family, sockaddr)``), as asyncio's own tests do; other names resolve normally."""
    real = loop.getaddrinfo
    calls = []

    async def getaddrinfo(host, port, *, family=0, type=0, proto=0, flags=0):
        calls.append((host, port, family, type, proto, flags))
        if host in table:
            return [
                (fam, type or socket.SOCK_STREAM,
                 proto or (socket.IPPROTO_TCP if type != socket.SOCK_DGRAM
                           else socket.IPPROTO_UDP), "", addr)
                for fam, addr in table[host] if family in (0, fam)
            ]
        return await real(host, port, family=family, type=type, proto=proto, flags=flags)

    loop.getaddrinfo = getaddrinfo
    return calls


def connect_failed(addr) -> str:
    """asyncio's message for a refused connect to ``addr``."""
    return f"[Errno 111] Connect call failed {addr}"
