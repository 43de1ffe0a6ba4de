"""Connections through a proxy: HTTP and HTTPS proxies (plain requests in absolute form;
https targets through a CONNECT tunnel, TLS inside TLS when the proxy itself is https)
and SOCKS5 (RFC 1928, with RFC 1929 user/password auth)."""

from __future__ import annotations

import errno
import ipaddress
import socket
import urllib.request

from yarl import URL

from .._aioxide import http_request_head
from ._exceptions import ClientHttpProxyError, InvalidURL
from ._helpers import BasicAuth, first_that_works, is_ip

PROXY_SCHEMES = frozenset({"http", "https", "socks5", "socks5h"})


def from_env(url: URL) -> tuple[URL | None, BasicAuth | None]:
    """The proxy ``trust_env`` picks for ``url`` (``HTTP_PROXY``, ``HTTPS_PROXY``,
    ``NO_PROXY``), with credentials from the proxy URL."""
    proxies = urllib.request.getproxies_environment()
    proxy = proxies.get(url.scheme)
    if not proxy or urllib.request.proxy_bypass_environment(url.raw_host or "", proxies):
        return None, None
    proxy_url = URL(proxy)
    return proxy_url.with_user(None), BasicAuth.from_url(proxy_url)


def check(proxy) -> URL:
    try:
        proxy = URL(proxy)
    except ValueError as exc:  # a TypeError (not a str or URL) stays one, as in aiohttp
        raise InvalidURL(proxy) from exc
    if not proxy.scheme or not proxy.raw_host:
        raise InvalidURL(proxy)
    if proxy.scheme not in PROXY_SCHEMES:
        raise ValueError(f"Only http, https and socks5 proxies are supported, not {proxy}")
    return proxy


def proxy_lines(proxy_auth: BasicAuth | None, proxy_headers) -> list[tuple[str, str]]:
    lines = list(proxy_headers.items()) if proxy_headers else []
    if proxy_auth is not None and not any(k.lower() == "proxy-authorization" for k, _ in lines):
        lines.append(("Proxy-Authorization", proxy_auth.encode()))
    return lines


async def open_tunnel(loop, key, protocol, transport, ctx, proxy_headers):
    """Asks an HTTP proxy for a tunnel to ``key``'s host, then runs TLS over it."""
    authority = f"{key.host}:{key.port}" if ":" not in key.host else f"[{key.host}]:{key.port}"
    lines = [("Host", authority), *proxy_lines(key.proxy_auth, proxy_headers)]
    head = protocol.expect(True)  # a 2xx answer to CONNECT has no body
    protocol.send(http_request_head("CONNECT", authority, lines))
    _, status, reason, headers = await head
    if not 200 <= status < 300:
        raise ClientHttpProxyError(None, (), status=status, message=reason,
                                   headers=dict(headers))
    tls = await loop.start_tls(transport, protocol, ctx,
                               server_hostname=key.server_hostname or key.host)
    protocol.connection_made(tls)  # requests go through the TLS transport from now on
    return tls


_SOCKS_REPLIES = {
    1: "general SOCKS server failure",
    2: "connection not allowed by ruleset",
    3: "network unreachable",
    4: "host unreachable",
    5: "connection refused",
    6: "TTL expired",
    7: "command not supported",
    8: "address type not supported",
}


async def socks5_socket(loop, proxy: URL, auth: BasicAuth | None, host: str, port: int,
                        family: int) -> socket.socket:
    """A socket connected through the SOCKS5 proxy to ``host:port``, authenticating with
    ``auth`` if given. ``socks5h`` lets the proxy resolve the name; ``socks5`` resolves
    it here."""
    targets = [host]
    if proxy.scheme == "socks5" and not is_ip(host):
        infos = await loop.getaddrinfo(host, port, family=family, type=socket.SOCK_STREAM)
        targets = list(dict.fromkeys(info[4][0] for info in infos))

    async def through_proxy(target: str) -> socket.socket:
        # Each address on a fresh proxy connection: a refused CONNECT ends the session.
        sock = await _connect(loop, proxy.raw_host, proxy.port or 1080)
        try:
            await _socks5_handshake(loop, sock, auth, target, port)
        except BaseException:
            sock.close()
            raise
        return sock

    # Only a refusal moves on to the next address; bad credentials end it here.
    return await first_that_works(targets, through_proxy, (PermissionError, ValueError))


async def _connect(loop, host: str, port: int) -> socket.socket:
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)

    async def attempt(info) -> socket.socket:
        family, kind, proto, _, addr = info
        sock = socket.socket(family, kind, proto)
        sock.setblocking(False)
        try:
            await loop.sock_connect(sock, addr)
        except BaseException:
            sock.close()
            raise
        return sock

    return await first_that_works(infos, attempt)


async def _recv_exactly(loop, sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        part = await loop.sock_recv(sock, n - len(data))
        if not part:
            raise ConnectionResetError("SOCKS5 proxy closed the connection")
        data += part
    return data


async def _socks5_handshake(loop, sock, auth, host: str, port: int):
    user, password = (auth.login, auth.password) if auth is not None else (None, None)
    methods = b"\x00\x02" if user is not None else b"\x00"
    await loop.sock_sendall(sock, b"\x05" + bytes([len(methods)]) + methods)
    version, method = await _recv_exactly(loop, sock, 2)
    if version != 5:
        raise OSError(f"not a SOCKS5 proxy (version {version})")
    if method == 0x02 and user is not None:
        u, p = user.encode(), (password or "").encode()
        if len(u) > 255 or len(p) > 255:
            raise ValueError("SOCKS5 user and password are at most 255 bytes each")
        await loop.sock_sendall(sock, b"\x01" + bytes([len(u)]) + u + bytes([len(p)]) + p)
        _, status = await _recv_exactly(loop, sock, 2)
        if status != 0:
            raise PermissionError(errno.EACCES,
                                  "SOCKS5 proxy refused the user name and password")
    elif method != 0x00:
        raise PermissionError(errno.EACCES,
                              "SOCKS5 proxy accepts none of the offered auth methods")
    await loop.sock_sendall(sock, b"\x05\x01\x00" + _address(host) + port.to_bytes(2, "big"))
    _, reply, _, atyp = await _recv_exactly(loop, sock, 4)
    if reply != 0:
        raise ConnectionRefusedError(
            errno.ECONNREFUSED, f"SOCKS5 proxy: {_SOCKS_REPLIES.get(reply, f'error {reply}')}")
    skip = {1: 4, 4: 16}.get(atyp)
    if skip is None:
        skip = (await _recv_exactly(loop, sock, 1))[0]
    await _recv_exactly(loop, sock, skip + 2)  # the bound address and port


def _address(host: str) -> bytes:
    """SOCKS5's address field: an IP literal as such, a name for the proxy to resolve."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        name = host.encode("idna")
        return b"\x03" + bytes([len(name)]) + name
    return (b"\x01" if ip.version == 4 else b"\x04") + ip.packed
