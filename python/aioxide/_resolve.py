"""Address resolution shared by connections, servers and datagram endpoints.

A numeric host (``"127.0.0.1"``, ``"::1"``) is turned into an address-info tuple at
once, with no trip to the executor; anything else goes through ``loop.getaddrinfo``.
"""

from __future__ import annotations

import socket

_TYPE_PROTO = {socket.SOCK_STREAM: socket.IPPROTO_TCP, socket.SOCK_DGRAM: socket.IPPROTO_UDP}


def _numeric_port(port):
    """The port as an int, as asyncio reads it when it skips the lookup (``None`` and an
    empty string are 0, anything ``int()`` takes is that number: ``"80"``, ``80.0``);
    ``None`` for a service name or anything else ``int()`` refuses."""
    if port is None or port == "" or port == b"":
        return 0
    try:
        return int(port)
    except (TypeError, ValueError):
        return None


def numeric_info(host, port, family, type_, proto, *rest):
    """The address info of a numeric ``host``, or ``None`` when it needs a lookup."""
    if host is None or not isinstance(host, (str, bytes)):
        return None
    if not (isinstance(family, int) and isinstance(proto, int)):
        return None  # the lookup raises asyncio's TypeError for these
    expected = _TYPE_PROTO.get(type_)
    if expected is None or proto not in (0, expected):
        return None
    port = _numeric_port(port)
    if port is None:
        return None
    if isinstance(host, bytes):
        host = host.decode("idna")
    if "%" in host:
        return None  # scoped IPv6 literals need the resolver
    families = [family] if family else [socket.AF_INET, socket.AF_INET6]
    for fam in families:
        if fam not in (socket.AF_INET, socket.AF_INET6):
            continue
        try:
            socket.inet_pton(fam, host)
        except OSError:
            continue
        if fam == socket.AF_INET6:
            flowinfo, scope = (rest + (0, 0))[:2]
            return fam, type_, expected, "", (host, port, flowinfo, scope)
        return fam, type_, expected, "", (host, port)
    return None


async def resolve(loop, address, *, family=0, type_=socket.SOCK_STREAM, proto=0, flags=0):
    """``[address info, ...]`` for ``(host, port, ...)``."""
    host, port = address[:2]
    info = numeric_info(host, port, family, type_, proto, *address[2:])
    if info is not None:
        return [info]
    return await loop.getaddrinfo(host, port, family=family, type=type_, proto=proto,
                                  flags=flags)


def interleave(infos, first_family_count=1):
    """Alternate address families (RFC 8305): ``first_family_count`` addresses of the
    first family, then one of each family in turn."""
    by_family: dict[int, list] = {}
    for info in infos:
        by_family.setdefault(info[0], []).append(info)
    groups = list(by_family.values())
    if not groups:
        return []
    out = groups[0][:first_family_count - 1]
    groups[0] = groups[0][first_family_count - 1:]
    while any(groups):
        for group in groups:
            if group:
                out.append(group.pop(0))
    return out


def set_reuseport(sock) -> None:
    if not hasattr(socket, "SO_REUSEPORT"):
        raise ValueError("reuse_port not supported by socket module")
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    except OSError:
        raise ValueError("reuse_port not supported by socket module, "
                         "SO_REUSEPORT defined but not implemented.") from None
