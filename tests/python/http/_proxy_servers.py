"""Proxies for the proxy tests, each an async context manager on the test's loop, run like
``raw_server`` (``_http_servers.serve``).

``http_proxy`` is a forward HTTP proxy: an absolute-form request goes on to the origin in
origin form (one upstream connection per origin and client connection, kept alive) and
the answer comes back; ``CONNECT host:port`` is answered 200 and then bytes are piped both
ways. With an ``ssl_context`` it is an HTTPS proxy. ``socks5_proxy`` is a SOCKS5 server
(RFC 1928: no auth or RFC 1929 user/password; CONNECT to an IPv4, IPv6 or domain-name
address) piping both ways. Either can require ``credentials`` and records what it saw.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import socket

from _http_servers import RawServer, head_lines, read_request, response, serve
from yarl import URL

CONNECTED = b"HTTP/1.1 200 Connection established\r\n\r\n"
DENIED = response("407 Proxy Authentication Required", b"",
                  'Proxy-Authenticate: Basic realm="proxy"', "Connection: close")


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class Proxy(RawServer):
    """A proxy server; ``credentials`` is the (user, password) it requires, if any."""

    def __init__(self, handler, scheme: str, credentials: tuple[str, str] | None) -> None:
        super().__init__(handler)
        self.scheme = scheme
        self.credentials = credentials
        self.lines: list[str] = []  # HTTP: each request line, as received
        self.auth: list[str | None] = []  # HTTP: each Proxy-Authorization; SOCKS: user:pw
        self.connects: list[str] = []  # HTTP: each CONNECT target
        self.socks: list[tuple[int, str]] = []  # SOCKS: (address type, host) per CONNECT

    def url(self, userinfo: str = "") -> str:
        """The proxy's URL, with ``userinfo`` (``"user:pw@"``) in it if given."""
        return f"{self.scheme}://{userinfo}127.0.0.1:{self.port}"


def http_proxy(credentials: tuple[str, str] | None = None, ssl_context=None):
    scheme = "https" if ssl_context else "http"
    return serve(Proxy(_forward, scheme, credentials), ssl_context)


def socks5_proxy(credentials: tuple[str, str] | None = None):
    return serve(Proxy(_socks5, "socks5", credentials))


async def _forward(srv: Proxy, reader, writer) -> None:
    upstream: dict[str, tuple[asyncio.StreamReader, asyncio.StreamWriter]] = {}
    try:
        while (req := await srv.read_request(reader)) is not None:
            lines = head_lines(req)
            method, target, version = lines[0].split(" ")
            auth = [v for k, v in (h.split(": ", 1) for h in lines[1:])
                    if k.lower() == "proxy-authorization"]
            srv.lines.append(lines[0])
            srv.auth.append(auth[0] if auth else None)
            if srv.credentials and auth != [basic(*srv.credentials)]:
                writer.write(DENIED)
                return
            if method == "CONNECT":
                srv.connects.append(target)
                host, port = target.rsplit(":", 1)
                up = await asyncio.open_connection(host.strip("[]"), int(port))
                writer.write(CONNECTED)
                await pipe_both(reader, writer, *up)
                return
            url = URL(target)
            if url.raw_authority not in upstream:
                upstream[url.raw_authority] = await asyncio.open_connection(url.host, url.port)
            up_reader, up_writer = upstream[url.raw_authority]
            kept = [h for h in lines[1:] if not h.lower().startswith("proxy-")]
            head = "\r\n".join([f"{method} {url.raw_path_qs} {version}", *kept])
            up_writer.write(head.encode("latin-1") + b"\r\n\r\n" + req.split(b"\r\n\r\n", 1)[1])
            answer = await read_request(up_reader)  # reads a response just the same
            if answer is None:
                return
            writer.write(answer)
            await writer.drain()
    finally:
        for _, up_writer in upstream.values():
            up_writer.close()


async def _socks5(srv: Proxy, reader, writer) -> None:
    _, count = await reader.readexactly(2)
    offered = await reader.readexactly(count)
    method = 0x02 if srv.credentials else 0x00
    if method not in offered:
        writer.write(b"\x05\xff")
        return
    writer.write(bytes([5, method]))
    if method == 0x02:
        _, size = await reader.readexactly(2)
        user = (await reader.readexactly(size)).decode()
        size = (await reader.readexactly(1))[0]
        password = (await reader.readexactly(size)).decode()
        srv.auth.append(f"{user}:{password}")
        ok = (user, password) == srv.credentials
        writer.write(b"\x01\x00" if ok else b"\x01\x01")
        if not ok:
            return
    _, command, _, kind = await reader.readexactly(4)
    if kind == 1:
        host = socket.inet_ntop(socket.AF_INET, await reader.readexactly(4))
    elif kind == 4:
        host = socket.inet_ntop(socket.AF_INET6, await reader.readexactly(16))
    else:
        host = (await reader.readexactly((await reader.readexactly(1))[0])).decode()
    port = int.from_bytes(await reader.readexactly(2), "big")
    srv.socks.append((kind, host))
    bound = b"\x00\x01" + bytes(6)  # reserved byte, IPv4 0.0.0.0, port 0
    if command != 1:
        writer.write(b"\x05\x07" + bound)  # command not supported
        return
    try:
        up = await asyncio.open_connection(host, port)
    except OSError:
        writer.write(b"\x05\x05" + bound)  # connection refused
        return
    writer.write(b"\x05\x00" + bound)
    await pipe_both(reader, writer, *up)


async def pipe_both(reader, writer, up_reader, up_writer) -> None:
    """Copy bytes both ways until either side closes; then close both."""
    await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer),
                         return_exceptions=True)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        with contextlib.suppress(Exception):
            writer.close()
