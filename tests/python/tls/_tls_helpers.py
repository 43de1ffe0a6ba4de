"""Helpers shared by the TLS tests: certificates, contexts, recording protocols, raw peers.

The certificates are CPython's own test certificates (``Lib/test/certdata``), shipped
with the interpreter, so no external tool is needed. Every wait is on a future set from a
protocol callback or on a socket operation, bounded by ``asyncio.wait_for``.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import socket
import ssl
import time

import pytest
from _protocols import Accepting as Accepting
from _protocols import Recorder as Recorder
from _protocols import pattern as pattern

# Upper bound of any single wait; a test that hits it has failed.
TIMEOUT = 5
# What CPython's test suite uses as the password of its encrypted keys.
KEY_PASSWORD = "somepass"


def _certdata_dir() -> str | None:
    try:
        import test
    except ImportError:
        return None
    path = os.path.join(os.path.dirname(test.__file__), "certdata")
    return path if os.path.isdir(path) else None


CERTDATA = _certdata_dir()


def certfile(name: str) -> str:
    """Path of a certificate shipped with the interpreter; skips when it is missing."""
    if CERTDATA is None:
        pytest.skip("the interpreter ships no test certificates (Lib/test/certdata)")
    path = os.path.join(CERTDATA, name)
    if not os.path.exists(path):
        pytest.skip(f"the interpreter ships no {name}")
    return path


# keycert3.pem: key + certificate for "localhost", signed by pycacert.pem.
# keycert4.pem: key + certificate for "fakehostname", signed by pycacert.pem.
# ssl_cert.pem / ssl_key.pem: a self-signed "localhost" certificate and its key.
# keycert.passwd.pem: the same self-signed certificate, key encrypted with KEY_PASSWORD.
SIGNED_CERTFILE = "keycert3.pem"
SIGNED_CERTFILE2 = "keycert4.pem"
SIGNING_CA = "pycacert.pem"
ONLYCERT = "ssl_cert.pem"
ONLYKEY = "ssl_key.pem"
CERTFILE_PROTECTED = "keycert.passwd.pem"
ONLYKEY_PROTECTED = "ssl_key.passwd.pem"


def server_context(cert: str = SIGNED_CERTFILE, key: str | None = None,
                   password=None) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(certfile(cert), certfile(key) if key else None, password)
    return ctx


def client_context(cafile: str = SIGNING_CA) -> ssl.SSLContext:
    """A verifying client context (CERT_REQUIRED, check_hostname) trusting ``cafile``."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(certfile(cafile))
    return ctx


def fd_count() -> int:
    """Descriptors this process has open, after collecting garbage."""
    gc.collect()
    return len(os.listdir("/proc/self/fd"))


async def fds_settle(expected: int, timeout: float = 2.0) -> int:
    """Run the loop until the descriptor count is back to ``expected`` (closes may be
    scheduled with call_soon), or ``timeout`` passes; returns the final count."""
    deadline = time.monotonic() + timeout
    while True:
        n = fd_count()
        if n <= expected or time.monotonic() > deadline:
            return n
        await asyncio.sleep(0.01)


def run(loop: asyncio.AbstractEventLoop, coro, timeout: float = TIMEOUT):
    """Run ``coro`` on ``loop`` to completion, failing after ``timeout`` seconds."""
    return loop.run_until_complete(asyncio.wait_for(coro, timeout))


def record_exception_handler(loop) -> list[dict]:
    """Route the loop's exception handler into a list, which is returned."""
    calls: list[dict] = []
    loop.set_exception_handler(lambda _loop, context: calls.append(context))
    return calls


@contextlib.asynccontextmanager
async def tls_server(loop, ssl_ctx, factory=None, wait_lost=True, **kwargs):
    """A TLS echo server on 127.0.0.1 port 0; yields ``(server, address, factory)``.
    On exit the server is closed and (with ``wait_lost``) every connection it made has
    to be lost."""
    if factory is None:
        factory = Accepting(loop, echo=True)
    server = await loop.create_server(factory, "127.0.0.1", 0, ssl=ssl_ctx, **kwargs)
    try:
        yield server, server.sockets[0].getsockname()[:2], factory
    finally:
        server.close()
        await server.wait_closed()
        if wait_lost:
            await asyncio.wait_for(factory.all_lost(), TIMEOUT)


@contextlib.contextmanager
def listening_socket():
    """A non-blocking listening TCP socket on 127.0.0.1 port 0 (a raw peer's side)."""
    lsock = socket.socket()
    try:
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(8)
        lsock.setblocking(False)
        yield lsock
    finally:
        lsock.close()


async def raw_connect(loop, addr) -> socket.socket:
    sock = socket.socket()
    sock.setblocking(False)
    try:
        await loop.sock_connect(sock, addr)
    except BaseException:
        sock.close()
        raise
    return sock


async def recv_exactly(loop, sock, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = await loop.sock_recv(sock, n - len(buf))
        if not chunk:
            raise ConnectionError(f"EOF after {len(buf)} of {n} bytes")
        buf += chunk
    return bytes(buf)


async def recv_until_eof(loop, sock) -> bytes:
    buf = bytearray()
    while True:
        chunk = await loop.sock_recv(sock, 65536)
        if not chunk:
            return bytes(buf)
        buf += chunk


async def read_tls_record(loop, sock) -> bytes:
    """One whole TLS record (a ClientHello, say): 5-byte header, then its body."""
    header = await recv_exactly(loop, sock, 5)
    length = int.from_bytes(header[3:5], "big")
    return header + await recv_exactly(loop, sock, length)


def set_linger_zero(sock: socket.socket) -> None:
    """Make ``close()`` send an RST instead of a FIN."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")


class BioPeer:
    """A TLS endpoint driven by hand over a raw non-blocking socket (``MemoryBIO``), so
    a test can stop answering at any point: after the handshake, it reads only when told.
    """

    def __init__(self, loop, sock, ctx, *, server_side: bool, server_hostname=None):
        self.loop = loop
        self.sock = sock
        self.incoming = ssl.MemoryBIO()
        self.outgoing = ssl.MemoryBIO()
        self.sslobj = ctx.wrap_bio(self.incoming, self.outgoing, server_side=server_side,
                                   server_hostname=server_hostname)

    async def flush(self):
        data = self.outgoing.read()
        if data:
            await self.loop.sock_sendall(self.sock, data)

    async def feed(self):
        data = await self.loop.sock_recv(self.sock, 65536)
        if not data:
            self.incoming.write_eof()
        else:
            self.incoming.write(data)

    async def handshake(self):
        while True:
            try:
                self.sslobj.do_handshake()
            except ssl.SSLWantReadError:
                await self.flush()
                await self.feed()
            else:
                await self.flush()
                return

    async def send(self, data: bytes):
        self.sslobj.write(data)
        await self.flush()

    async def recv(self, n: int) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            try:
                buf += self.sslobj.read(n - len(buf))
            except ssl.SSLWantReadError:
                await self.feed()
        return bytes(buf)


def subject_cn(peercert) -> str:
    return dict(rdn[0] for rdn in peercert["subject"])["commonName"]


async def tls_connect(loop, addr, ctx, hostname="localhost", **kwargs):
    """A TLS client connection to ``addr``; returns (transport, its Recorder)."""
    client = Recorder(loop)
    transport, _ = await loop.create_connection(
        lambda: client, *addr, ssl=ctx, server_hostname=hostname, **kwargs)
    return transport, client


async def echo_roundtrip(transport, client, payload: bytes):
    transport.write(payload)
    got = await client.received(len(payload))
    assert got == payload


async def close_both(transport, client, server_proto):
    transport.close()
    assert await asyncio.wait_for(client.lost, TIMEOUT) is None
    assert await asyncio.wait_for(server_proto.lost, TIMEOUT) is None
