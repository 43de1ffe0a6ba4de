"""The plain request: one with no options of its own (a bytes body and ``ssl=`` allowed)
on a session with no tracing, middleware, retry, proxy, auth, netrc or raise_for_status.
It does what ``ClientSession._request`` would, with the per-URL work cached per
(method, URL string, ssl): the URL, the pool key, the header lines and the head bytes.
Anything else goes to ``_request``; so does a redirect, from the first answer on."""

from __future__ import annotations

from ssl import SSLContext

from multidict import CIMultiDict, getversion

from .._aioxide import http_request_head as _head_bytes
from ._body import Body
from ._exceptions import InvalidUrlClientError
from ._helpers import CACHE_SIZE, HTTP_SCHEMES, REDIRECTS, ConnectionKey
from ._streams import Deadline

PLAIN_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "DELETE", "POST", "PUT", "PATCH"})
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
# _request's arguments whose default is None: passed as None, they ask for nothing.
_NONE_DEFAULTS = frozenset({
    "params", "data", "json", "cookies", "headers", "skip_auto_headers", "auth", "compress",
    "chunked", "raise_for_status", "proxy", "proxy_auth", "server_hostname", "proxy_headers",
    "trace_request_ctx", "read_bufsize", "auto_decompress", "max_line_size",
    "max_field_size", "max_headers", "middlewares", "timeout"})


def plain_args(kwargs: dict) -> tuple | None:
    """``(data, ssl, allow_redirects)`` when a request's keyword arguments ask for nothing
    a plain request lacks (a bytes body and ``ssl`` it has), else None."""
    data, ssl, allow_redirects = None, True, True
    for name, value in kwargs.items():
        if name == "data" and type(value) in (bytes, bytearray):
            data = value
        elif name == "ssl" and (type(value) is bool or isinstance(value, SSLContext)):
            ssl = value
        elif name == "allow_redirects":
            allow_redirects = value
        elif value is not None or name not in _NONE_DEFAULTS:
            return None
    return data, ssl, allow_redirects


async def plain(session, method: str, str_or_url, data, ssl, allow_redirects: bool):
    """``session``'s response to a plain request (see the module's docstring)."""
    connector = session._connector
    if connector is None or connector._closed:
        raise RuntimeError("Session is closed")
    cache_key = (method, str_or_url, ssl, data is None)
    entry = session._plain_cache.get(cache_key) if type(str_or_url) is str else None
    if entry is None or entry[0] != getversion(session._default_headers) or \
            not session._jar_is_empty():
        entry = _entry(session, cache_key)
        if entry is None:
            return await session._request(method, str_or_url, data=data, ssl=ssl,
                                          allow_redirects=allow_redirects)
    _, url, key, target, wire, head_bytes, length_at = entry
    body = None
    if data is not None:
        body = Body(bytes(data), content_type="application/octet-stream")
        wire = wire.copy()
        wire[length_at] = ("Content-Length", str(len(data)))
    loop = session._loop
    timeout = session._timeout
    total_at = loop.time() + timeout.total if timeout.total else None
    deadline = Deadline(loop, total_at, timeout.sock_read)
    resp = await session._roundtrip(key, target, method, url, wire, False, body, None,
                                    timeout, total_at, deadline, session._decoding, (),
                                    head_bytes=head_bytes)
    if allow_redirects and resp.status in REDIRECTS:
        return await session._request(method, str_or_url, data=data, ssl=ssl,
                                      allow_redirects=True, _first=(resp, total_at, deadline))
    if "Set-Cookie" in resp.headers:
        session._store_cookies(resp)
    return resp


def _entry(session, cache_key: tuple) -> tuple | None:
    """The cached parts of a plain request, None when it is not one (no cookies to
    send, an http(s) URL with a host and no credentials). With a body, the header
    lines have a Content-Length at ``length_at`` to fill in."""
    method, str_or_url, ssl, bodiless = cache_key
    if type(str_or_url) is not str or not session._jar_is_empty():
        return None
    try:
        url = session._build_url(str_or_url)
    except InvalidUrlClientError:
        return None
    if url.scheme not in HTTP_SCHEMES or not url.raw_host or url.raw_user is not None:
        return None
    body = None if bodiless else Body(b"", content_type="application/octet-stream")
    wire, _ = session._wire_headers(method, url, CIMultiDict(), session._skip_auto_headers,
                                    body, None, None, None, False, None)
    length_at = next((i for i, (k, _) in enumerate(wire) if k == "Content-Length"), None)
    if not bodiless and length_at is None:
        return None
    target = url.raw_path_qs or "/"
    if ssl is True:
        ssl = getattr(session._connector, "ssl", True)
    key = ConnectionKey(url.raw_host, url.port, url.scheme == "https", ssl, None, None,
                        None, None)
    head_bytes = _head_bytes(method, target, wire) if bodiless else None
    entry = (getversion(session._default_headers), url, key, target, wire, head_bytes,
             length_at)
    if len(session._plain_cache) >= CACHE_SIZE:
        session._plain_cache.clear()
    session._plain_cache[cache_key] = entry
    return entry
