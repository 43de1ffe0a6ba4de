"""Connectors: where connections come from and the keep-alive pool they go back to.

A pooled connection is handed out only if its native protocol says it is ``reusable``:
idle, its last response read to the end, kept alive by the server, and no EOF or error
seen since. The loop reads a pooled connection like any other, so a server that closed
it while idle is noticed before a request is sent on it.
"""

from __future__ import annotations

import asyncio
import socket
import ssl as ssl_mod
from collections import defaultdict, deque

from .._aioxide import HttpConnection
from . import _proxy, _tracing
from ._exceptions import (
    ClientConnectorCertificateError,
    ClientConnectorDNSError,
    ClientConnectorError,
    ClientConnectorSSLError,
    ClientError,
    ClientProxyConnectionError,
    ConnectionTimeoutError,
    UnixClientConnectorError,
)
from ._helpers import ConnectionKey, Fingerprint, first_that_works, is_ip
from ._resolver import as_addrinfo


class Connection:
    """A connection lent to one request; ``release()`` or ``close()`` ends the loan."""

    __slots__ = ("_connector", "_key", "protocol", "transport", "reused")

    def __init__(self, connector, key, protocol, transport, reused: bool) -> None:
        self._connector = connector
        self._key = key
        self.protocol = protocol
        self.transport = transport
        self.reused = reused

    def __repr__(self) -> str:
        return f"Connection<{self._key}>"

    @property
    def closed(self) -> bool:
        return self.protocol is None or self.protocol.lost

    def release(self) -> None:
        """Back to the pool if the connection can serve another request, else closed."""
        if self.protocol is not None:
            protocol, self.protocol = self.protocol, None
            self._connector._release(self._key, protocol, self.transport)

    def close(self) -> None:
        if self.protocol is not None:
            protocol, self.protocol = self.protocol, None
            protocol.close()
            self._connector._release(self._key, protocol, self.transport)


_NOT_SET = object()


class BaseConnector:
    """The pool: at most ``limit`` connections lent at once (0: no limit), at most
    ``limit_per_host`` per (host, port, TLS) key, idle ones kept ``keepalive_timeout``
    seconds, or none kept with ``force_close``."""

    def __init__(self, *, keepalive_timeout=_NOT_SET, force_close: bool = False,
                 limit: int = 100, limit_per_host: int = 0,
                 enable_cleanup_closed: bool = False, loop=None,
                 timeout_ceil_threshold: float = 5) -> None:
        if force_close:
            if keepalive_timeout is not None and keepalive_timeout is not _NOT_SET:
                raise ValueError("keepalive_timeout cannot be set if force_close is True")
        elif keepalive_timeout is _NOT_SET:
            keepalive_timeout = 15.0
        self._loop = loop or asyncio.get_running_loop()
        self._keepalive_timeout = None if force_close else keepalive_timeout
        self._force_close = force_close
        self._limit = limit
        self._limit_per_host = limit_per_host
        self._idle: dict[ConnectionKey, list[tuple[object, object, float]]] = {}
        self._lent: set[object] = set()
        self._lent_per_key: defaultdict[ConnectionKey, set[object]] = defaultdict(set)
        self._waiters: defaultdict[ConnectionKey, deque] = defaultdict(deque)
        self._cleanup: asyncio.TimerHandle | None = None
        self._closed = False

    def __del__(self) -> None:
        if not getattr(self, "_closed", True) and self._idle:
            for idle in self._idle.values():
                for protocol, _, _ in idle:
                    protocol.close()

    @property
    def closed(self) -> bool:
        return self._closed

    # aiohttp's private names for the idle pool and the lent connections, which its own
    # tests and some users read; values are (protocol, transport, idle since) tuples.
    @property
    def _conns(self) -> dict:
        return self._idle

    @property
    def _acquired(self) -> set:
        return self._lent

    @property
    def force_close(self) -> bool:
        return self._force_close

    @property
    def limit(self) -> int:
        return self._limit

    @property
    def limit_per_host(self) -> int:
        return self._limit_per_host

    async def __aenter__(self):
        return self

    async def __aexit__(self, exc_type, exc, tb) -> None:
        await self.close()

    async def close(self, *, abort_ssl: bool = False) -> None:
        """Closes every idle connection; lent ones close when their response is done.
        ``abort_ssl`` drops idle TLS connections without the TLS goodbye."""
        self._closed = True
        if self._cleanup is not None:
            self._cleanup.cancel()
            self._cleanup = None
        for idle in self._idle.values():
            for protocol, transport, _ in idle:
                if abort_ssl and transport.get_extra_info("sslcontext") is not None:
                    transport.abort()
                protocol.close()
        self._idle.clear()
        for protocol in list(self._lent):
            protocol.close()
        for waiters in self._waiters.values():
            for fut in waiters:
                if not fut.done():
                    fut.cancel()

    def _available(self, key: ConnectionKey) -> bool:
        if self._limit and len(self._lent) >= self._limit:
            return False
        return not (self._limit_per_host
                    and len(self._lent_per_key.get(key, ())) >= self._limit_per_host)

    def _take_idle(self, key: ConnectionKey):
        idle = self._idle.get(key)
        now = self._loop.time()
        while idle:
            protocol, transport, since = idle.pop()
            if protocol.reusable and now - since < self._keepalive_timeout:
                if not idle:
                    del self._idle[key]
                return protocol, transport
            protocol.close()
        self._idle.pop(key, None)
        return None

    def _reuse(self, key: ConnectionKey) -> Connection | None:
        """An idle pooled connection for ``key``, lent at once; None if there is none,
        or if a traced request waits for the reuse event (``connect`` sends it)."""
        if key not in self._idle or self._closed or _tracing.current.get() is not None:
            return None
        found = self._take_idle(key)
        return None if found is None else self._lend(key, *found, reused=True)

    async def connect(self, key: ConnectionKey, timeout,
                      total_at: float | None = None, fresh: bool = False,
                      proxy_headers=None) -> Connection:
        """A connection for ``key``: an idle pooled one unless ``fresh``, else a new one
        once the limits allow it. ``timeout`` is the ``ClientTimeout``; ``total_at`` the
        request's absolute deadline."""
        if self._closed:
            raise RuntimeError("Connector is closed.")
        connect_at = total_at
        if timeout.connect:
            connect_at = _earliest(self._loop.time() + timeout.connect, total_at)
        traces = _tracing.current.get()
        while True:
            if not fresh:
                found = self._take_idle(key)
                if found is not None:
                    if traces is not None:
                        await traces.send("connection_reuseconn")
                    return self._lend(key, *found, reused=True)
            if self._available(key):
                break
            if traces is not None:
                await traces.send("connection_queued_start")
            await self._wait_turn(key, connect_at)
            if traces is not None:
                await traces.send("connection_queued_end")
        if traces is not None:
            await traces.send("connection_create_start")
        placeholder = object()  # holds the slot while connecting
        self._lent.add(placeholder)
        self._lent_per_key[key].add(placeholder)
        try:
            protocol, transport = await self._open(key, timeout, connect_at, proxy_headers)
        except BaseException:
            self._unlend(key, placeholder)
            self._wake_one()
            raise
        self._unlend(key, placeholder)
        if self._closed:
            transport.close()
            raise RuntimeError("Connector is closed.")
        conn = self._lend(key, protocol, transport, reused=False)
        if traces is not None:
            await traces.send("connection_create_end")
        return conn

    async def _wait_turn(self, key: ConnectionKey, connect_at: float | None) -> None:
        fut = self._loop.create_future()
        waiters = self._waiters[key]
        waiters.append(fut)
        try:
            if connect_at is None:
                await fut
            else:
                async with asyncio.timeout_at(connect_at):
                    await fut
        except TimeoutError:
            raise ConnectionTimeoutError(f"Connection timeout to host {key.host}") from None
        except BaseException:
            if fut.done() and not fut.cancelled():
                self._wake_one()  # pass the turn on
            raise
        finally:
            if fut in waiters:
                waiters.remove(fut)
            if not waiters:
                self._waiters.pop(key, None)

    def _lend(self, key, protocol, transport, reused: bool) -> Connection:
        self._lent.add(protocol)
        self._lent_per_key[key].add(protocol)
        return Connection(self, key, protocol, transport, reused)

    def _unlend(self, key, protocol) -> None:
        self._lent.discard(protocol)
        lent = self._lent_per_key.get(key)
        if lent is not None:
            lent.discard(protocol)
            if not lent:
                del self._lent_per_key[key]

    def _release(self, key, protocol, transport) -> None:
        self._unlend(key, protocol)
        if self._closed or self._force_close or not protocol.reusable:
            protocol.close()
        else:
            self._idle.setdefault(key, []).append((protocol, transport, self._loop.time()))
            if self._cleanup is None and self._keepalive_timeout:
                self._cleanup = self._loop.call_later(self._keepalive_timeout,
                                                      self._drop_expired)
        if self._waiters:
            self._wake_one()

    def _wake_one(self) -> None:
        for key, waiters in self._waiters.items():
            if waiters and self._available(key):
                while waiters:
                    fut = waiters.popleft()
                    if not fut.done():
                        fut.set_result(None)
                        return

    def _drop_expired(self) -> None:
        self._cleanup = None
        now = self._loop.time()
        for key, idle in list(self._idle.items()):
            keep = []
            for entry in idle:
                if now - entry[2] < self._keepalive_timeout and entry[0].reusable:
                    keep.append(entry)
                else:
                    entry[0].close()
            if keep:
                self._idle[key] = keep
            else:
                del self._idle[key]
        if self._idle:
            self._cleanup = self._loop.call_later(self._keepalive_timeout, self._drop_expired)

    async def _open(self, key, timeout, connect_at, proxy_headers=None):
        at = _earliest(connect_at, _deadline(self._loop, timeout.sock_connect))
        protocol = HttpConnection(self._loop)  # each request gives expect() its limits
        try:
            if at is None:
                transport = await self._create(key, protocol, proxy_headers)
            else:
                async with asyncio.timeout_at(at):
                    transport = await self._create(key, protocol, proxy_headers)
        except TimeoutError:
            raise ConnectionTimeoutError(f"Connection timeout to host {key.host}") from None
        except ssl_mod.CertificateError as exc:
            raise ClientConnectorCertificateError(key, exc) from exc
        except ssl_mod.SSLError as exc:
            raise ClientConnectorSSLError(key, exc) from exc
        except socket.gaierror as exc:
            raise ClientConnectorDNSError(key, exc) from exc
        except ClientError:
            raise
        except OSError as exc:
            if key.proxy is not None:
                raise ClientProxyConnectionError(key, exc) from exc
            raise self._connect_error(key, exc) from exc
        if isinstance(key.ssl, Fingerprint):
            try:
                key.ssl.check(transport)
            except BaseException:
                transport.close()
                raise
        return protocol, transport

    def _connect_error(self, key, exc: OSError) -> ClientConnectorError:
        return ClientConnectorError(key, exc)

    async def _create(self, key, protocol, proxy_headers=None):
        raise TypeError(f"{type(self).__name__} cannot open connections")


def _deadline(loop, seconds: float | None) -> float | None:
    return loop.time() + seconds if seconds else None


def _earliest(*times: float | None) -> float | None:
    return min((t for t in times if t is not None), default=None)


def tls_context(value) -> ssl_mod.SSLContext | None:
    """The context for ``ssl=``: True the default, False or a Fingerprint no verification
    (the fingerprint is checked after the handshake), a context as given."""
    if isinstance(value, ssl_mod.SSLContext):
        return value
    if value is False or isinstance(value, Fingerprint):
        return _unverified()
    return _verified()


_contexts: dict[bool, ssl_mod.SSLContext] = {}


def _verified() -> ssl_mod.SSLContext:
    if True not in _contexts:
        ctx = ssl_mod.create_default_context()
        ctx.set_alpn_protocols(["http/1.1"])
        _contexts[True] = ctx
    return _contexts[True]


def _unverified() -> ssl_mod.SSLContext:
    if False not in _contexts:
        ctx = ssl_mod.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl_mod.CERT_NONE
        ctx.set_alpn_protocols(["http/1.1"])
        _contexts[False] = ctx
    return _contexts[False]


class TCPConnector(BaseConnector):
    """Connections over TCP, with TLS for https, and a DNS cache of ``ttl_dns_cache``
    seconds (``None``: kept until cleared)."""

    def __init__(self, *, ssl=True, verify_ssl=True, fingerprint=None,
                 use_dns_cache: bool = True, ttl_dns_cache: int | None = 10,
                 family: int = socket.AF_UNSPEC, ssl_context=None, local_addr=None,
                 resolver=None, keepalive_timeout=_NOT_SET, force_close: bool = False,
                 limit: int = 100, limit_per_host: int = 0,
                 enable_cleanup_closed: bool = False, loop=None,
                 timeout_ceil_threshold: float = 5, happy_eyeballs_delay: float | None = 0.25,
                 interleave: int | None = None, socket_factory=None,
                 ssl_shutdown_timeout=_NOT_SET) -> None:
        super().__init__(keepalive_timeout=keepalive_timeout, force_close=force_close,
                         limit=limit, limit_per_host=limit_per_host, loop=loop,
                         timeout_ceil_threshold=timeout_ceil_threshold)
        if ssl_context is not None:
            ssl = ssl_context
        elif fingerprint is not None:
            ssl = Fingerprint(fingerprint)
        elif not verify_ssl:
            ssl = False
        if not isinstance(ssl, (bool, ssl_mod.SSLContext, Fingerprint)):
            raise TypeError(f"ssl should be SSLContext, Fingerprint, or bool, got {ssl!r} "
                            "instead.")
        self._ssl = ssl
        self._family = family
        self._local_addr = local_addr
        self._use_dns_cache = use_dns_cache
        self._ttl_dns_cache = ttl_dns_cache
        self._dns: dict[tuple[str, int], tuple[list, float | None]] = {}
        self._happy_eyeballs_delay = happy_eyeballs_delay
        self._interleave = interleave
        self._resolver = resolver  # the caller's: never closed here, as in aiohttp

    @property
    def family(self) -> int:
        return self._family

    @property
    def use_dns_cache(self) -> bool:
        return self._use_dns_cache

    @property
    def ssl(self):
        return self._ssl

    def clear_dns_cache(self, host: str | None = None, port: int | None = None) -> None:
        if host is None:
            self._dns.clear()
        else:
            self._dns.pop((host, port), None)

    async def _resolve(self, host: str, port: int) -> list:
        now = self._loop.time()
        traces = _tracing.current.get()
        cached = self._dns.get((host, port)) if self._use_dns_cache else None
        if cached is not None and (cached[1] is None or cached[1] > now):
            if traces is not None:
                await traces.send("dns_cache_hit", host)
            return cached[0]
        if traces is not None:
            await traces.send("dns_cache_miss", host)
            await traces.send("dns_resolvehost_start", host)
        if self._resolver is not None:
            infos = as_addrinfo(await self._resolver.resolve(host, port, family=self._family))
        else:
            infos = await self._loop.getaddrinfo(host, port, family=self._family,
                                                 type=socket.SOCK_STREAM)
        if traces is not None:
            await traces.send("dns_resolvehost_end", host)
        if self._use_dns_cache:
            ttl = self._ttl_dns_cache
            self._dns[(host, port)] = (infos, None if ttl is None else now + ttl)
        return infos

    async def _create(self, key, protocol, proxy_headers=None):
        ctx = tls_context(key.ssl) if key.is_ssl else None
        hostname = (key.server_hostname or key.host) if ctx is not None else None
        proxy = key.proxy
        if proxy is None:
            return await self._connect_to(key.host, key.port, protocol, ctx, hostname)
        if proxy.scheme in ("socks5", "socks5h"):
            sock = await _proxy.socks5_socket(self._loop, proxy, key.proxy_auth, key.host,
                                              key.port, self._family)
            try:
                transport, _ = await self._loop.create_connection(
                    lambda: protocol, sock=sock, ssl=ctx, server_hostname=hostname)
            except BaseException:
                sock.close()
                raise
            return transport
        # The request's ssl= also checks an https proxy's certificate, as in aiohttp.
        proxy_ctx = tls_context(key.ssl) if proxy.scheme == "https" else None
        transport = await self._connect_to(proxy.raw_host, proxy.port, protocol, proxy_ctx,
                                           proxy.raw_host if proxy_ctx else None)
        if ctx is None:
            return transport  # plain requests go to the proxy in absolute form
        try:
            return await _proxy.open_tunnel(self._loop, key, protocol, transport, ctx,
                                            proxy_headers)
        except BaseException:
            transport.close()
            raise

    async def _connect_to(self, host, port, protocol, ctx, server_hostname):
        kwargs = {"ssl": ctx, "server_hostname": server_hostname,
                  "local_addr": self._local_addr}
        if (self._use_dns_cache or self._resolver is not None) and not is_ip(host):
            # The cache or the resolver gives the addresses; each is tried in turn.
            infos = await self._resolve(host, port)

            async def attempt(info):
                family, _, proto, _, addr = info
                transport, _ = await self._loop.create_connection(
                    lambda: protocol, addr[0], addr[1], family=family, proto=proto, **kwargs)
                return transport

            # A TLS failure is the server's answer, not an address to skip.
            return await first_that_works(
                infos, attempt, (ssl_mod.SSLError, ssl_mod.CertificateError))
        # One address (an IP literal) needs no Happy Eyeballs race, and 3.11's race can
        # lose a socket that connects just as the request is cancelled.
        race = {} if is_ip(host) else {
            "happy_eyeballs_delay": self._happy_eyeballs_delay, "interleave": self._interleave}
        transport, _ = await self._loop.create_connection(
            lambda: protocol, host, port, family=self._family, **race, **kwargs)
        return transport


class UnixConnector(BaseConnector):
    """Connections to a Unix socket at ``path``, whatever the URL's host."""

    def __init__(self, path: str, force_close: bool = False, keepalive_timeout=_NOT_SET,
                 limit: int = 100, limit_per_host: int = 0, loop=None) -> None:
        super().__init__(force_close=force_close, keepalive_timeout=keepalive_timeout,
                         limit=limit, limit_per_host=limit_per_host, loop=loop)
        self._path = path

    @property
    def path(self) -> str:
        return self._path

    def _connect_error(self, key, exc: OSError) -> ClientConnectorError:
        return UnixClientConnectorError(self._path, key, exc)

    async def _create(self, key, protocol, proxy_headers=None):
        transport, _ = await self._loop.create_unix_connection(lambda: protocol, self._path)
        return transport
