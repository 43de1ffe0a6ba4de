"""Client middlewares (aiohttp 3.12's shape): ``async def mw(request, handler)`` wraps
sending one request, may change ``request.headers`` and may call ``handler`` again.
Two come with the package: ``DigestAuthMiddleware`` (RFC 7616) and the ``retry=``
policy, ``Retry``."""

from __future__ import annotations

import asyncio
import email.utils
import hashlib
import os
import random
import re
import time
from collections.abc import Awaitable, Callable, Sequence

from multidict import CIMultiDict
from yarl import URL

from ._exceptions import ClientConnectionError, ClientError, ServerTimeoutError
from ._helpers import check_credentials


class ClientRequest:
    """What a middleware sees of a request about to be sent: its method, URL, header
    lines (a mutable case-insensitive multidict) and body bytes (``None`` if streamed or
    empty)."""

    __slots__ = ("method", "url", "original_url", "headers", "_body", "session")

    def __init__(self, method: str, url: URL, headers: CIMultiDict, body, session) -> None:
        self.method = method
        self.url = url
        self.original_url = url
        self.headers = headers
        self._body = body  # a _body.Body or None
        self.session = session

    @property
    def body(self) -> bytes | None:
        return self._body.data if self._body is not None else b""

    @property
    def replayable(self) -> bool:
        """Whether the body can be sent again (not a stream that was consumed)."""
        return self._body is None or self._body.stream is None

    def __repr__(self) -> str:
        return f"<ClientRequest({self.method} {self.url})>"


ClientHandlerType = Callable[[ClientRequest], Awaitable["object"]]
ClientMiddlewareType = Callable[[ClientRequest, ClientHandlerType], Awaitable["object"]]


def chain(handler: ClientHandlerType, middlewares: Sequence[ClientMiddlewareType]):
    """``handler`` wrapped by ``middlewares``, the first one outermost."""
    for mw in reversed(middlewares):
        handler = _wrap(mw, handler)
    return handler


def _wrap(mw: ClientMiddlewareType, inner: ClientHandlerType) -> ClientHandlerType:
    async def wrapped(req: ClientRequest):
        return await mw(req, inner)

    return wrapped


# -- Retry --------------------------------------------------------------------------

IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})


class Retry:
    """An opt-in retry policy (``ClientSession(retry=Retry(...))`` or per request).

    A request is sent up to ``attempts`` times in all when its method is in ``methods``,
    its body can be sent again, and it failed with one of ``exceptions`` or got a status in
    ``statuses``. Waits grow as ``backoff * 2**n`` (at most ``backoff_max``) with up to
    ``jitter`` of that added at random; a ``Retry-After`` header (seconds or a date) on
    a retried response is honoured up to ``backoff_max``."""

    def __init__(self, attempts: int = 3, *, backoff: float = 0.5, backoff_max: float = 30.0,
                 jitter: float = 0.1, statuses=(429, 502, 503, 504), methods=IDEMPOTENT,
                 exceptions=(ClientConnectionError, ServerTimeoutError)) -> None:
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        self.attempts = attempts
        self.backoff = backoff
        self.backoff_max = backoff_max
        self.jitter = jitter
        self.statuses = frozenset(statuses)
        self.methods = frozenset(m.upper() for m in methods)
        self.exceptions = tuple(exceptions)

    def delay(self, attempt: int, response=None) -> float:
        """Seconds to wait before attempt ``attempt + 1`` (``attempt`` counts from 1)."""
        if response is not None:
            after = _retry_after(response.headers.get("Retry-After"))
            if after is not None:
                return min(after, self.backoff_max)
        base = min(self.backoff * 2 ** (attempt - 1), self.backoff_max)
        return base + random.uniform(0, base * self.jitter)

    async def __call__(self, req: ClientRequest, handler: ClientHandlerType):
        attempt = 1
        while True:
            retryable = (attempt < self.attempts and req.method in self.methods
                         and req.replayable)
            try:
                resp = await handler(req)
            except self.exceptions:
                if not retryable:
                    raise
                await asyncio.sleep(self.delay(attempt))
            else:
                if not retryable or resp.status not in self.statuses:
                    return resp
                wait = self.delay(attempt, resp)
                resp.release()
                await asyncio.sleep(wait)
            attempt += 1


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    if value.strip().isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None
    return max(0.0, when - time.time())


# -- Digest auth --------------------------------------------------------------------

_HASHES = {"MD5": hashlib.md5, "SHA": hashlib.sha1, "SHA-256": hashlib.sha256,
           "SHA256": hashlib.sha256, "SHA-512": hashlib.sha512, "SHA512": hashlib.sha512,
           "SHA-512-256": lambda d=b"": hashlib.new("sha512_256", d)}
_PARAM = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')


def parse_challenge(header: str) -> dict[str, str]:
    """The parameters of a ``Digest ...`` challenge, quoted strings unescaped."""
    out = {}
    for name, quoted, bare in _PARAM.findall(header):
        out[name.lower()] = re.sub(r"\\(.)", r"\1", quoted) if quoted else bare
    return out


def _q(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class DigestAuthMiddleware:
    """HTTP Digest authentication (RFC 7616): answers a 401 ``WWW-Authenticate: Digest``
    challenge by sending the request again with credentials, and from then on sends them
    up front to the same origin (counting nonce uses). Algorithms MD5, SHA-256,
    SHA-512-256, SHA-512, SHA and their ``-sess`` forms; qop ``auth`` and ``auth-int``."""

    def __init__(self, login: str, password: str, preemptive: bool = True) -> None:
        check_credentials(login, password, "username")
        self._login = login
        self._password = password
        self._preemptive = preemptive
        self._challenge: dict[str, str] | None = None
        self._origin: URL | None = None
        self._nc = 0

    def _authorization(self, method: str, url: URL, body: bytes | None) -> str:
        ch = self._challenge
        algorithm = ch.get("algorithm", "MD5")
        name = algorithm.upper()
        sess = name.endswith("-SESS")
        make = _HASHES.get(name[:-5] if sess else name)
        if make is None:
            raise ClientError(f"Digest auth error: Unsupported hash algorithm: {algorithm}")

        def h(data: str | bytes) -> str:
            return make(data.encode() if isinstance(data, str) else data).hexdigest()

        realm, nonce = ch.get("realm", ""), ch.get("nonce", "")
        qops = {q.strip() for q in ch.get("qop", "").split(",") if q.strip()}
        valid = qops & {"auth", "auth-int"}
        qop = "auth-int" if "auth-int" in valid else ("auth" if valid else "")
        if qops and not valid:
            raise ClientError(f"Digest auth error: Unsupported Quality of Protection (qop) "
                              f"value(s): {ch.get('qop')}")
        self._nc += 1
        nc = f"{self._nc:08x}"
        cnonce = os.urandom(8).hex()
        uri = url.raw_path_qs or "/"
        ha1 = h(f"{self._login}:{realm}:{self._password}")
        if sess:
            ha1 = h(f"{ha1}:{nonce}:{cnonce}")
        ha2 = h(f"{method}:{uri}")
        if qop == "auth-int":
            ha2 = h(f"{method}:{uri}:{h(body or b'')}")
        if qop:
            response = h(f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")
        else:
            response = h(f"{ha1}:{nonce}:{ha2}")
        parts = [f"username={_q(self._login)}", f"realm={_q(realm)}", f"nonce={_q(nonce)}",
                 f"uri={_q(uri)}", f"algorithm={algorithm}", f"response={_q(response)}"]
        if qop:
            parts += [f"qop={qop}", f"nc={nc}", f"cnonce={_q(cnonce)}"]
        if "opaque" in ch:
            parts.append(f"opaque={_q(ch['opaque'])}")
        return "Digest " + ", ".join(parts)

    async def __call__(self, req: ClientRequest, handler: ClientHandlerType):
        same_origin = self._origin is None or req.url.origin() == self._origin
        if self._challenge is not None and self._preemptive and same_origin:
            req.headers["Authorization"] = self._authorization(req.method, req.url, req.body)
        resp = await handler(req)
        header = resp.headers.get("WWW-Authenticate", "")
        if resp.status != 401 or not header.lower().startswith("digest ") or not same_origin:
            return resp
        if not req.replayable:
            return resp
        challenge = parse_challenge(header[7:])
        if not challenge.get("nonce"):
            return resp
        self._challenge, self._nc = challenge, 0
        self._origin = req.url.origin()
        resp.release()
        req.headers["Authorization"] = self._authorization(req.method, req.url, req.body)
        return await handler(req)
