"""``ClientResponse``: the status and headers of a response, its body through
``content``, and the loan of its connection, which ends when the body has been read
(back to the pool) or the response is released or closed early (the connection closes)."""

from __future__ import annotations

import asyncio
import json as json_mod
import re
from http.cookies import SimpleCookie
from typing import NamedTuple

from multidict import CIMultiDict, CIMultiDictProxy

from ._cookies import parse_set_cookies
from ._exceptions import ClientConnectionError, ClientResponseError, ContentTypeError
from ._helpers import RequestInfo, retrieve
from ._streams import EmptyStreamReader, StreamReader


class _Done:
    """What ``release()`` returns: an awaitable with nothing left to do."""

    __slots__ = ()

    def __await__(self):
        return iter(())


_DONE = _Done()


class HttpVersion(NamedTuple):
    major: int
    minor: int


HttpVersion10 = HttpVersion(1, 0)
HttpVersion11 = HttpVersion(1, 1)

_JSON_TYPE = re.compile(r"^application/(?:[\w.+-]+?\+)?json")


def parse_content_type(value: str | None) -> tuple[str, dict[str, str]]:
    """``("type/subtype", {param: value})``, lower-cased, quotes stripped."""
    if not value:
        return "application/octet-stream", {}
    kind, *params = value.split(";")
    out = {}
    for param in params:
        name, sep, val = param.partition("=")
        if sep:
            out[name.strip().lower()] = val.strip().strip('"')
    return kind.strip().lower() or "application/octet-stream", out


def request_info(url, method: str, wire: list[tuple[str, str]]) -> RequestInfo:
    return RequestInfo(url, method, CIMultiDictProxy(CIMultiDict(wire)), url)


class ClientResponse:
    """A response; ``async with`` releases it on exit."""

    __slots__ = ("method", "_real_url", "_url", "status", "reason", "version", "_raw",
                 "headers", "_wire", "_request_info", "_history", "_session", "_connection",
                 "_closed", "_released", "_body", "_cookies", "content", "_in_context",
                 "_traces", "_writer", "__weakref__")

    def __init__(self, method: str, url, *, status: int, reason: str, minor: int,
                 headers: list[tuple[str, str]], wire, history, conn, deadline, session,
                 read_bufsize: int, traces=None, writer=None) -> None:
        self._traces = traces
        self._writer = writer  # the task still sending a streamed request body
        if writer is not None:
            writer.add_done_callback(retrieve)  # its failure is the response's to raise
        self.method = method
        self._real_url = url
        self._url = url.with_fragment(None) if url.raw_fragment else url
        self.status = status
        self.reason = reason
        self.version = HttpVersion11 if minor == 1 else HttpVersion(1, minor)
        self._raw = headers
        self.headers = CIMultiDictProxy(CIMultiDict(headers))
        self._wire = wire
        self._request_info = None
        self._history = history
        self._session = session
        self._connection = conn
        self._closed = False
        self._released = False
        self._body: bytes | None = None
        self._cookies: SimpleCookie | None = None
        self._in_context = False  # inside `async with`, whose exit releases
        if conn is None:
            self.content: StreamReader = EmptyStreamReader()
        else:
            self.content = StreamReader(conn.protocol, deadline, self._let_go, read_bufsize)
            self.content.at_eof()  # an empty or already complete body ends the loan now

    @property
    def request_info(self) -> RequestInfo:
        if self._request_info is None:
            self._request_info = request_info(self._real_url, self.method, self._wire)
        return self._request_info

    @property
    def cookies(self) -> SimpleCookie:
        if self._cookies is None:
            # The last cookie of each name; one that cannot be parsed is dropped.
            self._cookies = SimpleCookie()
            self._cookies.update(parse_set_cookies(self.headers.getall("Set-Cookie", ())))
        return self._cookies

    def __del__(self) -> None:
        # A response dropped before its body was read: its connection cannot be reused.
        conn = getattr(self, "_connection", None)
        if conn is not None:
            conn.close()

    def __repr__(self) -> str:
        return f"<ClientResponse({self.url}) [{self.status} {self.reason}]>\n{self.headers}\n"

    # -- attributes ------------------------------------------------------------

    @property
    def url(self):
        return self._url

    @property
    def real_url(self):
        return self._real_url

    @property
    def host(self) -> str:
        return self._url.host

    @property
    def history(self) -> tuple:
        return self._history

    @property
    def raw_headers(self) -> tuple[tuple[bytes, bytes], ...]:
        return tuple((k.encode("utf-8", "surrogateescape"), v.encode("utf-8", "surrogateescape"))
                     for k, v in self._raw)

    @property
    def connection(self):
        return self._connection

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def ok(self) -> bool:
        return self.status < 400

    @property
    def content_type(self) -> str:
        return parse_content_type(self.headers.get("Content-Type"))[0]

    @property
    def charset(self) -> str | None:
        return parse_content_type(self.headers.get("Content-Type"))[1].get("charset")

    @property
    def content_disposition(self):
        return self.headers.get("Content-Disposition")

    @property
    def content_length(self) -> int | None:
        value = self.headers.get("Content-Length")
        return int(value) if value is not None else None

    def get_encoding(self) -> str:
        return self.charset or "utf-8"

    # -- the connection loan ---------------------------------------------------

    def release(self) -> _Done:
        """Returns the connection to the pool if the body was read to its end (what is
        buffered is dropped), otherwise closes it. Awaitable, as in aiohttp. From now on
        ``read()`` raises, as in aiohttp, even with the body read."""
        self._released = True
        return self._let_go()

    def _let_go(self) -> _Done:
        """Ends the connection's loan (also when the whole body has been taken)."""
        conn, self._connection = self._connection, None
        sending = self._writer is not None and self._stop_writer()
        if conn is not None:
            self.content._close()  # reads from now on raise, unless the body was all read
            protocol = conn.protocol
            if protocol is not None and protocol.body_done and not sending:
                protocol.take()  # unread bytes of a complete body
                conn.release()
            else:
                conn.close()
        self._closed = True
        return _DONE

    def close(self) -> None:
        """Closes the connection, whatever its state."""
        conn, self._connection = self._connection, None
        self._stop_writer()
        if conn is not None:
            self.content._close()
            conn.close()
        self._closed = True

    def _stop_writer(self) -> bool:
        """Stops sending the request body; True if it had not all gone out, so the
        connection is out of step and cannot be reused."""
        writer, self._writer = self._writer, None
        if writer is None or writer.done():
            return False
        writer.cancel()
        return True

    async def wait_for_close(self) -> None:
        """Waits until the request body has gone out, then releases."""
        if self._writer is not None:
            await asyncio.wait((self._writer,))
        self.release()

    def raise_for_status(self) -> None:
        if self.status >= 400:
            if not self._in_context:  # else leaving the block releases, after any read
                self.release()
            raise ClientResponseError(self.request_info, self._history, status=self.status,
                                      message=self.reason, headers=self.headers)

    # -- the body --------------------------------------------------------------

    async def read(self) -> bytes:
        if self._body is None:
            try:
                self._body = await self.content.read()
                if self._traces is not None:
                    await self._traces.send("response_chunk_received", self.method, self.url,
                                            self._body)
            except BaseException:
                self.close()
                raise
        elif self._released:
            raise ClientConnectionError("Connection closed")
        return self._body

    async def text(self, encoding: str | None = None, errors: str = "strict") -> str:
        body = await self.read()
        return body.decode(encoding or self.get_encoding(), errors)

    async def json(self, *, encoding: str | None = None, loads=json_mod.loads,
                   content_type: str | None = "application/json"):
        body = await self.read()
        if content_type:
            ctype = self.content_type
            expected = (_JSON_TYPE.match(ctype) if content_type == "application/json"
                        else content_type in ctype)
            if not expected:
                raise ContentTypeError(
                    self.request_info, self._history, status=self.status,
                    message=f"Attempt to decode JSON with unexpected mimetype: {ctype}",
                    headers=self.headers)
        if not body.strip():
            return None
        return loads(body.decode(encoding or self.get_encoding()))

    async def __aenter__(self) -> ClientResponse:
        self._in_context = True
        return self

    async def __aexit__(self, exc_type, exc, tb) -> None:
        self.release()
