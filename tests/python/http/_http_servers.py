"""Test servers for the HTTP client tests, each an async context manager on the test's loop.

``web_server`` runs an ``aiohttp.web`` application (keep-alive on, as by default) on
127.0.0.1 or a Unix socket and records, per request, which connection carried it.
``raw_server`` is a bare ``asyncio.start_server`` whose handler writes exactly the bytes a
test chooses (``canned`` builds the usual one), for responses aiohttp.web would never send.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from aiohttp import web

# Upper bound of any single test body; a test that hits it has failed.
TIMEOUT = 10


def run(loop: asyncio.AbstractEventLoop, coro, timeout: float = TIMEOUT):
    """Run ``coro`` on ``loop`` to completion, failing after ``timeout`` seconds."""
    return loop.run_until_complete(asyncio.wait_for(coro, timeout))


class WebServer:
    """A running aiohttp.web app; ``conns[i]`` is the connection number of request ``i``."""

    def __init__(self) -> None:
        self.base = ""
        self.conns: list[int] = []
        self._transports: list[object] = []  # strong refs: identities stay unique

    def url(self, path: str = "/") -> str:
        return self.base + path

    @property
    def connections(self) -> int:
        return len(self._transports)

    def _seen(self, transport) -> None:
        for i, t in enumerate(self._transports):
            if t is transport:
                self.conns.append(i)
                return
        self._transports.append(transport)
        self.conns.append(len(self._transports) - 1)


@contextlib.asynccontextmanager
async def web_server(*routes: web.RouteDef, unix_path: str | None = None, ssl_context=None):
    """Serve ``routes`` (``web.get("/", handler)``, ...) until the block exits; over TLS
    (``https://`` URLs) with an ``ssl_context``."""
    srv = WebServer()

    @web.middleware
    async def record(request, handler):
        srv._seen(request.transport)
        return await handler(request)

    app = web.Application(middlewares=[record])
    app.add_routes(routes)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1)
    await runner.setup()
    try:
        if unix_path is None:
            site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
            await site.start()
            host, port = runner.addresses[0][:2]
            srv.base = f"{'https' if ssl_context else 'http'}://{host}:{port}"
        else:
            await web.UnixSite(runner, unix_path).start()
            srv.base = "http://localhost"
        yield srv
    finally:
        await runner.cleanup()


async def read_request(reader: asyncio.StreamReader) -> bytes | None:
    """One request (head and a Content-Length or chunked body) as raw bytes, None at EOF."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    lower = head.lower()
    body = b""
    if b"\r\ntransfer-encoding: chunked" in lower:
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            body += size_line + await reader.readexactly(size + 2)
            if size == 0:
                break
    else:
        for line in lower.split(b"\r\n"):
            if line.startswith(b"content-length:"):
                body = await reader.readexactly(int(line.split(b":")[1]))
    return head + body


Handler = Callable[["RawServer", asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class RawServer:
    """A raw TCP server: ``connections`` accepted so far, ``requests`` read so far."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.port = 0
        self.connections = 0
        self.requests: list[bytes] = []
        self.closed = 0  # connections whose handler has finished and closed its end
        self._changed = asyncio.Event()
        self._tasks: set[asyncio.Task] = set()
        self._writers: list[asyncio.StreamWriter] = []

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def wait_for(self, predicate: Callable[[], bool]) -> None:
        """Wait until ``predicate()`` holds; it is checked whenever a request is read or a
        connection closed."""
        while not predicate():
            await self._changed.wait()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def read_request(self, reader: asyncio.StreamReader) -> bytes | None:
        req = await read_request(reader)
        if req is not None:
            self.requests.append(req)
            self._notify()
        return req

    async def _serve(self, reader, writer) -> None:
        self.connections += 1
        self._tasks.add(asyncio.current_task())
        self._writers.append(writer)
        try:
            await self.handler(self, reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass  # the client went away, or the server is stopping
        finally:
            writer.close()
            self._tasks.discard(asyncio.current_task())
            self.closed += 1
            self._notify()


def raw_server(handler: Handler):
    return serve(RawServer(handler))


@contextlib.asynccontextmanager
async def serve(srv: RawServer, ssl_context=None):
    """Run ``srv`` (a RawServer, or a subclass) on 127.0.0.1, over TLS with an
    ``ssl_context``, until the block exits."""
    server = await asyncio.start_server(srv._serve, "127.0.0.1", 0, ssl=ssl_context)
    srv.port = server.sockets[0].getsockname()[1]
    try:
        yield srv
    finally:
        server.close()
        for task in list(srv._tasks):
            task.cancel()
        await asyncio.gather(*srv._tasks, return_exceptions=True)
        for writer in srv._writers:
            writer.close()
        await server.wait_closed()


def canned(*responses: bytes, close: bool = False) -> Handler:
    """A handler answering the n-th request on a connection with ``responses[n]`` (the last
    one repeats); with ``close`` it closes the connection after each answer."""

    async def handler(srv: RawServer, reader, writer) -> None:
        n = 0
        while await srv.read_request(reader) is not None:
            writer.write(responses[min(n, len(responses) - 1)])
            await writer.drain()
            n += 1
            if close:
                return

    return handler


def response(status: str = "200 OK", body: bytes = b"", *headers: str, length=True) -> bytes:
    """Raw HTTP/1.1 response bytes; ``length`` adds a Content-Length for ``body``."""
    lines = [f"HTTP/1.1 {status}", *headers]
    if length:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def chunked(*chunks: bytes) -> bytes:
    """A chunked transfer-coding body (terminating zero chunk included)."""
    return b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"


async def echo(srv: RawServer, reader, writer) -> None:
    """A handler answering every request with 200 and the raw request as the body (for
    HEAD, only the Content-Length of that body)."""
    while (req := await srv.read_request(reader)) is not None:
        wire = response("200 OK", req)
        writer.write(wire[: -len(req)] if req.startswith(b"HEAD ") else wire)
        await writer.drain()


def routed(routes: dict[str, bytes]) -> Handler:
    """A handler answering a request whose target (path and query, as sent) is in
    ``routes`` with those bytes, and any other request like ``echo``."""

    async def handler(srv: RawServer, reader, writer) -> None:
        while (req := await srv.read_request(reader)) is not None:
            target = head_lines(req)[0].split(" ")[1]
            writer.write(routes.get(target) or response("200 OK", req))
            await writer.drain()

    return handler


def head_lines(raw: bytes) -> list[str]:
    """The request line and header lines of a raw request, as sent."""
    return raw.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")


def header_pairs(raw: bytes) -> list[tuple[str, str]]:
    """The (name, value) pairs of a raw request's header lines, names cased as sent."""
    return [tuple(line.split(": ", 1)) for line in head_lines(raw)[1:]]


async def hello(request):
    """An aiohttp.web handler answering with its method and target."""
    return web.Response(text=f"hello {request.method} {request.path_qs}")


async def get_text(s, url: str, **kwargs) -> str:
    """GET ``url`` on session ``s``, asserting a 200, and return the text."""
    async with s.get(url, **kwargs) as r:
        assert r.status == 200
        return await r.text()
