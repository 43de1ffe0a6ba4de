"""``ClientSession``: aiohttp's client session on a native HTTP/1.1 protocol.

A request is: build the URL and headers, get a connection from the connector, write the
head and body, await the response head (parsed natively), then follow redirects. The
body is read later through the response, on the same connection.
"""

from __future__ import annotations

import asyncio
import json as json_mod
import sys
import traceback
import warnings
from collections.abc import Mapping
from typing import NamedTuple

from multidict import CIMultiDict, CIMultiDictProxy, getversion
from yarl import URL

from .._aioxide import HttpDisconnected, HttpHeadError, HttpPayloadError
from .._aioxide import http_request_head as _head_bytes
from . import _cookies, _proxy, _tracing
from ._body import Body, build
from ._connector import BaseConnector, TCPConnector
from ._context import RequestContextManager
from ._cookies import AbstractCookieJar, CookieJar, DummyCookieJar, parse_set_cookies
from ._exceptions import (
    ClientPayloadError,
    InvalidUrlClientError,
    InvalidUrlRedirectClientError,
    NonHttpUrlClientError,
    NonHttpUrlRedirectClientError,
    TooManyRedirects,
)
from ._helpers import (
    CACHE_SIZE,
    DEFAULT_TIMEOUT,
    HTTP_SCHEMES,
    REDIRECTS,
    BasicAuth,
    ClientTimeout,
    ConnectionKey,
    netrc_auth,
)
from ._middlewares import ClientRequest, Retry, chain
from ._plain import BODY_METHODS, PLAIN_METHODS, plain, plain_args
from ._response import ClientResponse, request_info
from ._streams import Deadline, translate
from ._tracing import Traces
from ._wire import send_request

try:
    from importlib.metadata import version as _dist_version

    _VERSION = _dist_version("aioxide")
except Exception:  # noqa: BLE001 - an uninstalled checkout
    _VERSION = "0"

USER_AGENT = f"Python/{sys.version_info[0]}.{sys.version_info[1]} aioxide/{_VERSION}"
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})
_NO_BODY_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "CONNECT"})
_POST_METHODS = frozenset({"POST", "PUT", "PATCH"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
_sentinel = object()
# A compressed body may decode to at most this much (a decompression bomb's guard).
DEFAULT_MAX_DECOMPRESS = 2**30


class _Limits(NamedTuple):
    """What the native parser allows a response, per request (``expect``'s limits)."""

    max_line_size: int
    max_field_size: int
    max_headers: int
    read_bufsize: int


def _headers(value) -> CIMultiDict:
    if value is None:
        return CIMultiDict()
    if isinstance(value, (Mapping, CIMultiDictProxy)):
        return CIMultiDict(value)
    return CIMultiDict(list(value))


class ClientSession:
    """aiohttp's ``ClientSession``: one connection pool, cookie jar and set of defaults
    shared by many requests. Use ``async with`` or ``await session.close()``."""

    def __init__(self, base_url=None, *, connector: BaseConnector | None = None, loop=None,
                 cookies=None, headers=None, proxy=None, proxy_auth=None,
                 skip_auto_headers=None, auth: BasicAuth | None = None,
                 json_serialize=json_mod.dumps, request_class=None, response_class=None,
                 ws_response_class=None, version=None, cookie_jar=None,
                 connector_owner: bool = True, raise_for_status=False,
                 timeout=_sentinel, auto_decompress: bool = True, trust_env: bool = False,
                 requote_redirect_url: bool = True, trace_configs=None,
                 read_bufsize: int = 2**18, max_line_size: int = 8190,
                 max_field_size: int = 8190, fallback_charset_resolver=None,
                 middlewares=(), ssl_shutdown_timeout=_sentinel,
                 max_decompress_size: int | None = DEFAULT_MAX_DECOMPRESS,
                 retry: Retry | None = None, json_serialize_bytes=None,
                 max_headers: int = 128) -> None:
        self._loop = loop or asyncio.get_running_loop()
        self._connector: BaseConnector | None = None
        if base_url is not None:
            base_url = URL(base_url)
            if not base_url.absolute:
                raise ValueError("Only absolute URLs are supported")
        self._base_url = base_url
        self._default_proxy = _proxy.check(proxy) if proxy is not None else None
        self._default_proxy_auth = proxy_auth
        if connector is None:
            connector = TCPConnector(loop=self._loop)
        if connector._loop is not self._loop:
            raise RuntimeError("Session and connector has to use same event loop")
        self._connector = connector
        self._connector_owner = connector_owner
        self._cookie_jar = cookie_jar if cookie_jar is not None else CookieJar(loop=self._loop)
        if cookies:
            self._cookie_jar.update_cookies(cookies)
        self._default_headers = _headers(headers)
        # Lower-cased: multidict's istr hashes by case, so a frozenset of istr would not.
        self._skip_auto_headers = frozenset(h.lower() for h in skip_auto_headers or ())
        self._default_auth = auth
        self._json_serialize = json_serialize
        self._json_serialize_bytes = json_serialize_bytes  # wins over json_serialize
        if timeout is _sentinel or timeout is None:
            timeout = DEFAULT_TIMEOUT
        if not isinstance(timeout, ClientTimeout):
            raise ValueError(f"timeout parameter cannot be of {type(timeout)} type, please "
                             "use 'timeout=ClientTimeout(...)'")
        self._timeout = timeout
        self._raise_for_status = raise_for_status
        self._auto_decompress = auto_decompress
        self._max_decompress_size = max_decompress_size
        self._middlewares = tuple(middlewares)
        self._trace_configs = list(trace_configs or ())
        for config in self._trace_configs:
            config.freeze()
        self._retry = retry
        self._trust_env = trust_env
        self._requote_redirect_url = requote_redirect_url
        self._read_bufsize = read_bufsize
        self._limits = _Limits(max_line_size, max_field_size, max_headers, read_bufsize)
        # Parsed URLs and the header lines of plain requests (no per-request headers,
        # body, auth or cookies), which many requests share.
        self._url_cache: dict[str, URL] = {}
        self._wire_cache: dict[tuple[str, URL], tuple[int, tuple[list, bool]]] = {}
        # A request with no options of its own skips _request's argument handling when
        # nothing session-wide needs it (_plain.py); its URL, pool key and head bytes
        # are cached by (method, URL string).
        self._plain_ok = not (self._trace_configs or self._middlewares or retry is not None
                              or self._default_proxy is not None or trust_env
                              or auth is not None or raise_for_status is not False)
        self._plain_cache: dict[tuple[str, str], tuple] = {}
        self._decoding = (auto_decompress, max_decompress_size, self._limits)
        self._source_traceback = (traceback.extract_stack(sys._getframe(1))
                                  if self._loop.get_debug() else None)

    def __del__(self, _warnings=warnings) -> None:
        if not self.closed:
            _warnings.warn(f"Unclosed client session {self!r}", ResourceWarning, source=self)
            context = {"client_session": self, "message": "Unclosed client session"}
            if self._source_traceback is not None:
                context["source_traceback"] = self._source_traceback
            self._loop.call_exception_handler(context)

    # -- attributes ------------------------------------------------------------

    @property
    def closed(self) -> bool:
        connector = getattr(self, "_connector", None)  # None too if __init__ failed
        return connector is None or connector.closed

    @property
    def connector(self) -> BaseConnector | None:
        return self._connector

    @property
    def cookie_jar(self) -> AbstractCookieJar:
        return self._cookie_jar

    @property
    def loop(self):
        return self._loop

    @property
    def timeout(self) -> ClientTimeout:
        return self._timeout

    @property
    def headers(self) -> CIMultiDict:
        return self._default_headers

    @property
    def skip_auto_headers(self) -> frozenset:
        return self._skip_auto_headers

    @property
    def auth(self) -> BasicAuth | None:
        return self._default_auth

    @property
    def json_serialize(self):
        return self._json_serialize

    @property
    def raise_for_status(self):
        return self._raise_for_status

    @property
    def auto_decompress(self) -> bool:
        return self._auto_decompress

    @property
    def trust_env(self) -> bool:
        return self._trust_env

    @property
    def connector_owner(self) -> bool:
        return self._connector_owner

    # -- life cycle ------------------------------------------------------------

    async def close(self) -> None:
        if not self.closed:
            if self._connector_owner:
                await self._connector.close()
            self._connector = None

    def detach(self) -> None:
        self._connector = None

    async def __aenter__(self) -> ClientSession:
        return self

    async def __aexit__(self, exc_type, exc, tb) -> None:
        await self.close()

    # -- requests ----------------------------------------------------------------

    def request(self, method: str, url, **kwargs) -> RequestContextManager:
        if self._plain_ok and method in PLAIN_METHODS:
            args = plain_args(kwargs)
            if args is not None and (args[0] is None or method in BODY_METHODS):
                return RequestContextManager(plain(self, method, url, *args))
        return RequestContextManager(self._request(method, url, **kwargs))

    def get(self, url, *, allow_redirects: bool = True, **kwargs) -> RequestContextManager:
        if self._plain_ok and not kwargs:
            return RequestContextManager(plain(self, "GET", url, None, True, allow_redirects))
        return self.request("GET", url, allow_redirects=allow_redirects, **kwargs)

    def options(self, url, *, allow_redirects: bool = True, **kwargs):
        return self.request("OPTIONS", url, allow_redirects=allow_redirects, **kwargs)

    def head(self, url, *, allow_redirects: bool = False, **kwargs):
        return self.request("HEAD", url, allow_redirects=allow_redirects, **kwargs)

    def post(self, url, *, data=None, **kwargs) -> RequestContextManager:
        return self.request("POST", url, data=data, **kwargs)

    def put(self, url, *, data=None, **kwargs) -> RequestContextManager:
        return self.request("PUT", url, data=data, **kwargs)

    def patch(self, url, *, data=None, **kwargs) -> RequestContextManager:
        return self.request("PATCH", url, data=data, **kwargs)

    def delete(self, url, **kwargs) -> RequestContextManager:
        return self.request("DELETE", url, **kwargs)

    def _build_url(self, str_or_url) -> URL:
        if type(str_or_url) is str:
            url = self._url_cache.get(str_or_url)
            if url is not None:
                return url
        try:
            url = URL(str_or_url)
        except (TypeError, ValueError) as exc:
            raise InvalidUrlClientError(str_or_url) from exc
        if self._base_url is not None and not url.absolute:
            url = self._base_url.join(url)
        if type(str_or_url) is str:
            if len(self._url_cache) >= CACHE_SIZE:
                self._url_cache.clear()
            self._url_cache[str_or_url] = url
        return url

    async def _request(self, method: str, str_or_url, *, params=None, data=None, json=None,
                       cookies=None, headers=None, skip_auto_headers=None,
                       auth: BasicAuth | None = None, allow_redirects: bool = True,
                       max_redirects: int = 10, compress=None, chunked: bool | None = None,
                       expect100: bool = False, raise_for_status=None,
                       read_until_eof: bool = True, proxy=None, proxy_auth=None,
                       timeout=_sentinel, ssl=True, server_hostname: str | None = None,
                       proxy_headers=None, trace_request_ctx=None,
                       read_bufsize: int | None = None, auto_decompress: bool | None = None,
                       max_line_size: int | None = None,
                       max_field_size: int | None = None, max_headers: int | None = None,
                       max_decompress_size=_sentinel, middlewares=None,
                       retry=_sentinel, _first=None) -> ClientResponse:
        """Every request but a plain one; ``_first`` is a plain request's answer to go on
        from (a redirect), with its deadline."""
        if self.closed:
            raise RuntimeError("Session is closed")
        traces = (Traces(self, self._trace_configs, trace_request_ctx)
                  if self._trace_configs else None)
        try:
            if data is not None and json is not None:
                raise ValueError("data and json parameters can not be used at the same time")
            method = method.upper()
            if not method.isascii() or not method.isalpha():
                raise ValueError(f"Method cannot contain non-token characters {method!r}")
            url = self._build_url(str_or_url)
            if params is not None:
                url = url.extend_query(params)
            if timeout is _sentinel or timeout is None:
                timeout = self._timeout
            elif not isinstance(timeout, ClientTimeout):
                timeout = ClientTimeout(total=timeout)
            if _first is None:
                total_at = self._loop.time() + timeout.total if timeout.total else None
                deadline = Deadline(self._loop, total_at, timeout.sock_read)
            else:
                _first, total_at, deadline = _first
            if json is not None:
                encoded = (self._json_serialize_bytes(json) if self._json_serialize_bytes
                           else self._json_serialize(json).encode())
                body = Body(encoded, content_type="application/json")
            elif data is not None:
                body = build(data)
            else:
                body = None
            if auto_decompress is None:
                auto_decompress = self._auto_decompress
            if max_decompress_size is _sentinel:
                max_decompress_size = self._max_decompress_size
            limits = self._limits
            overrides = {name: value for name, value in (
                ("max_line_size", max_line_size), ("max_field_size", max_field_size),
                ("max_headers", max_headers), ("read_bufsize", read_bufsize))
                if value is not None}
            if overrides:
                limits = limits._replace(**overrides)
            decoding = (auto_decompress, max_decompress_size, limits)
            if middlewares is None:
                middlewares = self._middlewares
            if retry is _sentinel:
                retry = self._retry
            if retry is not None:
                middlewares = (retry, *middlewares)
            extra = _headers(headers)
            skip = self._skip_auto_headers
            if skip_auto_headers:
                skip = skip | frozenset(h.lower() for h in skip_auto_headers)
            history: list[ClientResponse] = []
            request_cookies = cookies
            redirect_error = InvalidUrlClientError, NonHttpUrlClientError
            while True:
                if url.scheme and url.scheme not in HTTP_SCHEMES:
                    raise redirect_error[1](url)
                if not url.raw_host:
                    raise redirect_error[0](url)
                if url.scheme not in HTTP_SCHEMES:
                    raise redirect_error[1](url)
                url_auth = BasicAuth.from_url(url)
                if url_auth is not None:
                    if auth is not None and not history:
                        raise ValueError(
                            "Cannot combine AUTH argument with credentials encoded in URL")
                    # A redirect's own credentials win over the ones before it.
                    auth, url = url_auth, url.with_user(None)
                if auth is None and self._default_auth is not None and (
                        self._base_url is None or self._base_url.origin() == url.origin()):
                    auth = self._default_auth  # with base_url: only for its origin
                if auth is None and self._trust_env and "Authorization" not in extra:
                    auth = await self._loop.run_in_executor(None, netrc_auth, url.raw_host)
                if auth is not None and not history and "Authorization" in extra:
                    raise ValueError("Cannot combine AUTHORIZATION header with AUTH argument or "
                                     "credentials encoded in URL")
                via = self._pick_proxy(url, proxy, proxy_auth, proxy_headers)
                wire, framed = self._wire_headers(method, url, extra, skip, body, auth, chunked,
                                                  compress, expect100, request_cookies, via)
                if traces is not None and not history:
                    await traces.send("request_start", method, url, CIMultiDict(wire))
                sending = (compress, ssl, server_hostname, limits, timeout, total_at, deadline,
                           decoding, tuple(history), via, traces)
                token = _tracing.current.set(traces) if traces is not None else None
                try:
                    if _first is not None:
                        resp, _first = _first, None
                    elif middlewares:
                        resp = await self._through(middlewares, method, url, wire, body, sending)
                    else:
                        resp = await self._exchange(method, url, wire, framed, body, *sending)
                finally:
                    if token is not None:
                        _tracing.current.reset(token)
                if "Set-Cookie" in resp.headers:
                    self._store_cookies(resp)
                if resp.status not in REDIRECTS or not allow_redirects:
                    break
                if body is not None and body.stream is not None and not (
                        resp.status == 303 or (resp.status in (301, 302) and method == "POST")):
                    if body.rewind is None:
                        resp.release()  # the body was streamed once and cannot be resent
                        raise ClientPayloadError(
                            "Cannot follow redirect with a consumed request body (e.g. a "
                            "generator or a stream)")
                    body = body.rewind()  # a file: from where it started, once more
                history.append(resp)
                if traces is not None:
                    await traces.send("request_redirect", method, url, CIMultiDict(wire), resp)
                if max_redirects and len(history) >= max_redirects:
                    resp.close()
                    raise TooManyRedirects(history[0].request_info, tuple(history))
                if (resp.status == 303 and method != "HEAD") or (
                        resp.status in (301, 302) and method == "POST"):
                    method, body = "GET", None
                    extra.popall("Content-Type", None)
                    extra.popall("Content-Length", None)
                location = resp.headers.get("Location") or resp.headers.get("URI")
                if location is None:
                    history.pop()
                    break
                resp.release()
                try:
                    new_url = URL(location, encoded=not self._requote_redirect_url)
                except ValueError as exc:
                    raise InvalidUrlRedirectClientError(location, "Server attempted redirecting "
                                                        "to a location that does not look like a "
                                                        "URL") from exc
                new_url = url.join(new_url)
                if new_url.scheme not in HTTP_SCHEMES:
                    raise NonHttpUrlRedirectClientError(new_url)
                if url.origin() != new_url.origin():
                    # Credentials and the caller's cookies stay with the origin they were for.
                    auth = request_cookies = None
                    for name in ("Authorization", "Proxy-Authorization", "Cookie"):
                        extra.popall(name, None)
                url = new_url
                if params is not None and method == "GET":
                    params = None
                redirect_error = InvalidUrlRedirectClientError, NonHttpUrlRedirectClientError
            resp._history = tuple(history)
            if traces is not None:
                await traces.send("request_end", method, url, CIMultiDict(wire), resp)
            check = raise_for_status if raise_for_status is not None else self._raise_for_status
            if check is True:
                resp.raise_for_status()
            elif callable(check):
                await check(resp)
            return resp
        except Exception as exc:
            if traces is not None:
                await traces.send("request_exception", method, str_or_url,
                                  CIMultiDict(headers or {}), exc)
            raise

    def _store_cookies(self, resp: ClientResponse) -> None:
        """Every Set-Cookie of ``resp`` into the jar, each with its own attributes (two
        cookies of one name for two domains are two cookies)."""
        headers = resp.headers.getall("Set-Cookie")
        jar = self._cookie_jar
        try:
            if hasattr(jar, "update_cookies_from_headers"):
                jar.update_cookies_from_headers(headers, resp.url)
            else:
                jar.update_cookies(parse_set_cookies(headers), resp.url)
        except BaseException:
            resp.close()  # the caller never gets the response: its connection goes now
            raise

    async def _through(self, middlewares, method, url, wire, body, sending):
        """Sends the request through the middleware chain; each call of the innermost
        handler sends the request as the middlewares left it."""

        async def send(req: ClientRequest) -> ClientResponse:
            lines = list(req.headers.items())
            return await self._exchange(req.method, req.url, lines,
                                        "Transfer-Encoding" in req.headers, req._body,
                                        *sending)

        req = ClientRequest(method, url, CIMultiDict(wire), body, self)
        return await chain(send, middlewares)(req)

    def _pick_proxy(self, url: URL, proxy, proxy_auth, proxy_headers):
        """``None``, or ``(proxy URL, proxy auth, proxy headers)`` for this URL: the
        request's proxy, else the session's, else the environment's with ``trust_env``."""
        if proxy is not None:
            proxy = _proxy.check(proxy)
        elif self._default_proxy is not None:
            proxy, proxy_auth = self._default_proxy, proxy_auth or self._default_proxy_auth
        elif self._trust_env:
            proxy, env_auth = _proxy.from_env(url)
            proxy_auth = proxy_auth or env_auth
        if proxy is None:
            return None
        url_auth = BasicAuth.from_url(proxy)
        if url_auth is not None:
            proxy, proxy_auth = proxy.with_user(None), proxy_auth or url_auth
        headers = CIMultiDict(proxy_headers) if proxy_headers else None
        return proxy, proxy_auth, headers

    def _wire_headers(self, method, url: URL, extra: CIMultiDict, skip, body, auth,
                      chunked, compress, expect100, cookies, via=None) -> tuple[list, bool]:
        """The request's header lines, in the order they are written, and whether the
        body goes out in chunked coding. Plain requests' lines are cached, keyed by the
        session headers' multidict version, so editing ``session.headers`` is seen."""
        plain = (via is None and not extra and body is None and auth is None and not cookies
                 and not chunked and not compress and not expect100
                 and skip is self._skip_auto_headers and self._jar_is_empty())
        if plain:
            version = getversion(self._default_headers)
            hit = self._wire_cache.get((method, url))
            if hit is not None and hit[0] == version:
                return hit[1]
            wire = self._build_wire(method, url, extra, skip, body, auth, chunked, compress,
                                    expect100, cookies, None)
            if len(self._wire_cache) >= CACHE_SIZE:
                self._wire_cache.clear()
            self._wire_cache[(method, url)] = (version, wire)
            return wire
        return self._build_wire(method, url, extra, skip, body, auth, chunked, compress,
                                expect100, cookies, via)

    def _jar_is_empty(self) -> bool:
        jar = self._cookie_jar
        return type(jar) is DummyCookieJar or (type(jar) is CookieJar and not jar._cookies)

    def _build_wire(self, method, url: URL, extra: CIMultiDict, skip, body, auth,
                    chunked, compress, expect100, cookies, via) -> tuple[list, bool]:
        out = CIMultiDict()
        if "Host" not in extra:
            port = url.explicit_port
            host = url.raw_host
            if ":" in host:
                host = f"[{host}]"
            default = _DEFAULT_PORTS.get(url.scheme)
            out["Host"] = host if port is None or port == default else f"{host}:{port}"
        for name, value in self._default_headers.items():
            if name not in extra:
                out.add(name, value)
        out.extend(extra)
        for name, value in (("Accept", "*/*"), ("Accept-Encoding", "gzip, deflate, br, zstd"),
                            ("User-Agent", USER_AGENT)):
            if name not in out and name.lower() not in skip:
                out[name] = value
        jar = self._cookie_jar.filter_cookies(url)
        own = {}
        if cookies:
            # The caller's cookies go through a jar of their own, so Secure and the
            # Morsels' own names hold for them too. They win over the jar's, and only
            # the jar's are cut to the header limits.
            once = CookieJar(unsafe=True, quote_cookie=getattr(self._cookie_jar,
                                                              "quote_cookie", True))
            once._secure_origins = getattr(self._cookie_jar, "_secure_origins", [])
            once._bounded = False
            once.update_cookies(cookies)
            own = once.filter_cookies(url)
        if (jar or own) and "Cookie" not in out:
            stored = _cookies.header(m for name, m in jar.items() if name not in own)
            out["Cookie"] = "; ".join(filter(None, (
                stored, *(f"{m.key}={m.coded_value}" for m in own.values()))))
        if auth is not None and "Authorization" not in out:
            if not isinstance(auth, BasicAuth):
                raise TypeError("BasicAuth() tuple is required instead")
            out["Authorization"] = auth.encode()
        if body is not None and body.content_type and "Content-Type" not in out \
                and "content-type" not in skip:
            out["Content-Type"] = body.content_type
        if compress:
            out["Content-Encoding"] = "deflate" if compress is True else compress
        streamed = body is not None and (body.stream is not None or chunked or compress)
        if streamed and body.length is not None and not chunked and not compress:
            out.setdefault("Content-Length", str(body.length))  # a file of known size
        elif streamed:
            if "Content-Length" in out and not compress:
                pass  # the caller frames the body itself
            else:
                out.popall("Content-Length", None)
                out["Transfer-Encoding"] = "chunked"
        elif body is not None and not out.get("Content-Length", "").isdigit():
            out["Content-Length"] = str(len(body.data))  # else the body is cut to the caller's
        elif method not in _NO_BODY_METHODS:
            out.setdefault("Content-Length", "0")
            if method in _POST_METHODS and "content-type" not in skip:
                out.setdefault("Content-Type", "application/octet-stream")
        if expect100:
            out["Expect"] = "100-continue"
        if via is not None and url.scheme == "http":
            # Plain HTTP through a proxy: its credentials and headers go with each request.
            for name, value in _proxy.proxy_lines(via[1], via[2]):
                out.setdefault(name, value)
        if self._connector.force_close and "Connection" not in out:
            out["Connection"] = "close"
        return list(out.items()), "Transfer-Encoding" in out

    async def _exchange(self, method, url, wire, framed, body, compress, ssl,
                        server_hostname, limits, timeout, total_at, deadline, decoding,
                        history, via=None, traces=None):
        """Sends the request and returns the response with its head read. A reused
        connection that turns out dead is retried once on a new one for an idempotent
        method whose body can be sent again."""
        if ssl is True:
            ssl = getattr(self._connector, "ssl", True)  # the connector's default
        proxy, proxy_auth, proxy_headers = via or (None, None, None)
        key = ConnectionKey(url.raw_host, url.port, url.scheme == "https", ssl, proxy,
                            proxy_auth,
                            hash(tuple(proxy_headers.items())) if proxy_headers else None,
                            server_hostname)
        # Through an HTTP proxy, a plain request names the whole URL.
        target = (str(url.with_fragment(None)) if proxy is not None and url.scheme == "http"
                  and proxy.scheme in ("http", "https") else url.raw_path_qs or "/")
        return await self._roundtrip(key, target, method, url, wire, framed, body, compress,
                                     timeout, total_at, deadline, decoding, history, traces,
                                     proxy_headers)

    async def _roundtrip(self, key, target, method, url, wire, framed, body, compress,
                         timeout, total_at, deadline, decoding, history, traces=None,
                         proxy_headers=None, head_bytes=None) -> ClientResponse:
        fresh = False
        connector = self._connector
        while True:
            conn = None if fresh else connector._reuse(key)
            if conn is None:
                conn = await connector.connect(key, timeout, total_at, fresh, proxy_headers)
            try:
                if body is None and traces is None:  # the head is the whole request
                    protocol = conn.protocol
                    head_fut = protocol.expect(method == "HEAD", *decoding)
                    protocol.send(head_bytes or _head_bytes(method, target, wire))
                    head, writer = await deadline.wait(head_fut, conn.close), None
                else:
                    head, writer = await send_request(conn, method, target, wire, framed,
                                                      body, compress, deadline, decoding,
                                                      traces and (url, traces))
            except (HttpDisconnected, ConnectionResetError, BrokenPipeError) as exc:
                conn.close()
                replayable = body is None or body.stream is None
                if conn.reused and not fresh and method in IDEMPOTENT_METHODS and replayable:
                    fresh = True
                    continue
                raise translate(exc, request_info(url, method, wire), history) from exc
            except (HttpHeadError, HttpPayloadError, OSError) as exc:
                conn.close()
                raise translate(exc, request_info(url, method, wire), history) from exc
            except BaseException:
                conn.close()
                raise
            minor, status, reason, headers = head
            return ClientResponse(method, url, status=status, reason=reason, minor=minor,
                                  headers=headers, wire=wire, history=history,
                                  conn=conn, deadline=deadline, session=self,
                                  read_bufsize=decoding[2].read_bufsize, traces=traces,
                                  writer=writer)


class _OneShot:
    """``aioxide.http.request(...)``: a session that lives for one response."""

    __slots__ = ("_args", "_session", "_resp")

    def __init__(self, method: str, url, kwargs: dict) -> None:
        self._args = (method, url, kwargs)
        self._session: ClientSession | None = None
        self._resp: ClientResponse | None = None

    async def __aenter__(self) -> ClientResponse:
        method, url, kwargs = self._args
        session_args = {k: kwargs.pop(k) for k in ("connector", "cookies", "version",
                                                    "loop") if k in kwargs}
        session_args.pop("version", None)
        self._session = ClientSession(**session_args)
        try:
            self._resp = await self._session._request(method, url, **kwargs)
        except BaseException:
            await self._session.close()
            raise
        return self._resp

    async def __aexit__(self, exc_type, exc, tb) -> None:
        self._resp.release()
        await self._session.close()
