"""Small value types of aiohttp's client API: timeouts, Basic auth, certificate
fingerprints, the request info a response error carries, and the pool's connection key."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import ipaddress
import netrc
import os
from typing import NamedTuple

from multidict import CIMultiDictProxy
from yarl import URL


@dataclasses.dataclass(frozen=True)
class ClientTimeout:
    """Timeouts in seconds; ``None`` or 0 disables one. ``total`` bounds the whole request
    (body included), ``connect`` getting a connection from the pool or a new one,
    ``sock_connect`` one connect, ``sock_read`` each wait for bytes."""

    total: float | None = None
    connect: float | None = None
    sock_read: float | None = None
    sock_connect: float | None = None
    ceil_threshold: float = 5


DEFAULT_TIMEOUT = ClientTimeout(total=5 * 60, sock_connect=30)


def check_credentials(login, password, where: str) -> None:
    """aiohttp's checks of a user name and password, with its messages."""
    if login is None:
        raise ValueError("None is not allowed as login value")
    if password is None:
        raise ValueError("None is not allowed as password value")
    if ":" in login:
        raise ValueError(f'A ":" is not allowed in {where}')


class BasicAuth(NamedTuple("_BasicAuth", [("login", str), ("password", str),
                                          ("encoding", str)])):
    """HTTP Basic credentials."""

    def __new__(cls, login: str, password: str = "", encoding: str = "latin1"):
        check_credentials(login, password, "login (RFC 1945#section-11.1)")
        return super().__new__(cls, login, password, encoding)

    @classmethod
    def decode(cls, auth_header: str, encoding: str = "latin1") -> BasicAuth:
        try:
            auth_type, encoded = auth_header.split(" ", 1)
        except ValueError:
            raise ValueError("Could not parse authorization header.") from None
        if auth_type.lower() != "basic":
            raise ValueError(f"Unknown authorization method {auth_type}")
        try:
            decoded = base64.b64decode(encoded.encode("ascii"), validate=True).decode(encoding)
        except binascii.Error:
            raise ValueError("Invalid base64 encoding.") from None
        try:
            login, password = decoded.split(":", 1)
        except ValueError:
            raise ValueError("Invalid credentials.") from None
        return cls(login, password, encoding=encoding)

    @classmethod
    def from_url(cls, url: URL, *, encoding: str = "latin1") -> BasicAuth | None:
        if not isinstance(url, URL):
            raise TypeError("url should be yarl.URL instance")
        if url.raw_user is None and url.raw_password is None:
            return None
        return cls(url.user or "", url.password or "", encoding=encoding)

    def encode(self) -> str:
        creds = f"{self.login}:{self.password}".encode(self.encoding)
        return "Basic " + base64.b64encode(creds).decode(self.encoding)


_DIGESTS = {16: hashlib.md5, 20: hashlib.sha1, 32: hashlib.sha256}


class Fingerprint:
    """Pins a server certificate by its SHA-256 digest (``ssl=Fingerprint(digest)``)."""

    def __init__(self, fingerprint: bytes) -> None:
        digest = _DIGESTS.get(len(fingerprint))
        if digest is None:
            raise ValueError("fingerprint has invalid length")
        if digest in (hashlib.md5, hashlib.sha1):
            raise ValueError("md5 and sha1 are insecure and not supported. Use sha256.")
        self._hashfunc = digest
        self._fingerprint = fingerprint

    @property
    def fingerprint(self) -> bytes:
        return self._fingerprint

    def check(self, transport) -> None:
        from ._exceptions import ServerFingerprintMismatch

        sslobj = transport.get_extra_info("ssl_object")
        if sslobj is None:
            return
        got = self._hashfunc(sslobj.getpeercert(binary_form=True)).digest()
        if got != self._fingerprint:
            host, port, *_ = transport.get_extra_info("peername")
            raise ServerFingerprintMismatch(self._fingerprint, got, host, port)


class RequestInfo(NamedTuple):
    """What was requested, as a response error reports it."""

    url: URL
    method: str
    headers: CIMultiDictProxy
    real_url: URL


class ConnectionKey(NamedTuple):
    """Which pooled connections can serve a request."""

    host: str
    port: int | None
    is_ssl: bool
    ssl: object
    proxy: URL | None
    proxy_auth: BasicAuth | None
    proxy_headers_hash: int | None
    server_hostname: str | None = None


def is_ip(host: str | None) -> bool:
    """Whether ``host`` is an IP address literal (IPv6 with or without brackets)."""
    if not host:
        return False
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


async def first_that_works(candidates, attempt, give_up_on=()):
    """``await attempt(c)`` for each candidate in turn, returning the first result; an
    ``OSError`` moves on to the next (unless it is one of ``give_up_on``), and the last
    one is raised if none works."""
    error: OSError | None = None
    for candidate in candidates:
        try:
            return await attempt(candidate)
        except give_up_on:
            raise
        except OSError as exc:
            error = exc
    raise error or OSError("no address to connect to")


REDIRECTS = frozenset({301, 302, 303, 307, 308})
HTTP_SCHEMES = frozenset({"http", "https"})
CACHE_SIZE = 256  # entries of each per-session cache (URLs, header lines, plain requests)


def netrc_auth(host: str) -> BasicAuth | None:
    """``trust_env``'s credentials for ``host`` from the .netrc file (``NETRC`` or
    ``~/.netrc``); None without a file or an entry. Blocking: run it on an executor."""
    path = os.environ.get("NETRC") or os.path.join(os.path.expanduser("~"), ".netrc")
    try:
        entry = netrc.netrc(path).authenticators(host)
    except (OSError, netrc.NetrcParseError):
        return None
    if entry is None:
        return None
    login, account, password = entry
    return BasicAuth(login or account or "", password or "")


def retrieve(fut) -> None:
    """A done callback that marks a future's exception as seen (no "never retrieved"
    log for a failure that has been dealt with elsewhere)."""
    if not fut.cancelled():
        fut.exception()
