"""The servers benches/net_bench.py measures: one (loop, style) per process.

    python benches/net_servers.py <loop> <style> [--host 127.0.0.1] [--cold-malloc]

builds a fresh loop of kind <loop> (benches/loops.py), starts the server on an ephemeral
port, prints one JSON line ``{"port": N}`` on stdout once it accepts connections, and
serves until killed. Before the loop is built it frees one 1 MiB block (see
``warm_malloc``; ``--cold-malloc`` skips that). When the style cannot run here (aiohttp
not installed, the loop cannot be imported) it prints ``{"unavailable": "why"}`` and
exits 3; any other failure to start is an exception on stderr and a non-zero exit.

Styles (all TCP, backlog 1024; the raw-socket style sets TCP_NODELAY itself, transports
set it by default in asyncio, uvloop and aioxide alike):

sock      echo: an accept loop on ``loop.sock_accept``, one task per connection doing
          ``loop.sock_recv(conn, 65536)`` / ``loop.sock_sendall(conn, data)``
streams   echo: ``asyncio.start_server``; ``reader.read(65536)``, ``writer.write``,
          ``await writer.drain()``
protocol  echo: ``loop.create_server`` with an ``asyncio.Protocol`` whose
          ``data_received`` calls ``transport.write(data)``; reading pauses while the
          transport is above its high-water mark
http      HTTP/1.1 keep-alive on ``asyncio.Protocol``: every complete request head
          (``\\r\\n\\r\\n``) gets the fixed 13-byte ``Hello, World!`` response with
          Content-Length (pipelined requests are answered in one write)
aiohttp   ``aiohttp.web`` hello-world: ``GET /`` returns ``web.Response(text="Hello,
          World!")``, access log off
tls       ``protocol`` over TLS (``create_server(..., ssl=context)``)
https     ``http`` over TLS

The TLS styles serve CPython's own test certificate for "localhost" (``keycert3.pem``
from ``Lib/test/certdata``) or, where the interpreter ships no tests, a self-signed one
made with the ``openssl`` command; TLS 1.3 with the default ciphers, as a client picks.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import ssl
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _subproc import warm_malloc  # noqa: E402
from loops import LOOP_NAMES, new_loop, unavailable_reason  # noqa: E402

STYLES = ("sock", "streams", "protocol", "http", "aiohttp", "tls", "https")
BACKLOG = 1024
READ_SIZE = 65536
HTTP_RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!"
)
EXIT_UNAVAILABLE = 3

_tasks: set[asyncio.Task] = set()  # the loop holds tasks weakly


def announce(port: int) -> None:
    print(json.dumps({"port": port}), flush=True)


# --- sock: raw loop.sock_* calls ------------------------------------------------------


async def _sock_echo(loop: asyncio.AbstractEventLoop, conn: socket.socket) -> None:
    with conn:
        try:
            while True:
                data = await loop.sock_recv(conn, READ_SIZE)
                if not data:
                    return
                await loop.sock_sendall(conn, data)
        except OSError:  # the client reset the connection: the run is over for it
            return


async def serve_sock(host: str) -> None:
    loop = asyncio.get_running_loop()
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, 0))
    listener.listen(BACKLOG)
    listener.setblocking(False)
    announce(listener.getsockname()[1])
    while True:
        conn, _ = await loop.sock_accept(listener)
        conn.setblocking(False)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        task = loop.create_task(_sock_echo(loop, conn))
        _tasks.add(task)
        task.add_done_callback(_tasks.discard)


# --- streams ----------------------------------------------------------------------------


async def _stream_echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            data = await reader.read(READ_SIZE)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


async def serve_streams(host: str) -> None:
    server = await asyncio.start_server(_stream_echo, host, 0, backlog=BACKLOG)
    announce(server.sockets[0].getsockname()[1])
    await asyncio.Event().wait()


# --- protocol -----------------------------------------------------------------------------


class EchoProtocol(asyncio.Protocol):
    transport: asyncio.Transport

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.transport.write(data)

    def pause_writing(self) -> None:
        self.transport.pause_reading()

    def resume_writing(self) -> None:
        self.transport.resume_reading()


class HttpProtocol(asyncio.Protocol):
    """Keep-alive HTTP/1.1 with the least parsing that is still correct for GETs."""

    transport: asyncio.Transport

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.pending = b""

    def data_received(self, data: bytes) -> None:
        buf = self.pending + data if self.pending else data
        end = buf.rfind(b"\r\n\r\n")
        if end < 0:
            self.pending = buf
            return
        count = buf.count(b"\r\n\r\n", 0, end + 4)
        self.pending = buf[end + 4 :]
        self.transport.write(HTTP_RESPONSE * count if count > 1 else HTTP_RESPONSE)


def tls_context() -> ssl.SSLContext:
    """The server side of the TLS styles (see the module docstring)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        import test

        certfile = Path(test.__file__).parent / "certdata" / "keycert3.pem"
    except ImportError:
        certfile = None
    if certfile is not None and certfile.exists():
        context.load_cert_chain(certfile)
        return context
    with tempfile.TemporaryDirectory() as tmp:
        key, cert = os.path.join(tmp, "key.pem"), os.path.join(tmp, "cert.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                        "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=localhost"],
                       check=True, capture_output=True)
        context.load_cert_chain(cert, key)
    return context


async def serve_protocol(host: str, factory: type[asyncio.Protocol],
                         tls: ssl.SSLContext | None = None) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(factory, host, 0, backlog=BACKLOG, ssl=tls)
    announce(server.sockets[0].getsockname()[1])
    await asyncio.Event().wait()


# --- aiohttp ------------------------------------------------------------------------------


async def serve_aiohttp(host: str) -> None:
    from aiohttp import web

    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="Hello, World!")

    app = web.Application()
    app.router.add_get("/", hello)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, 0, backlog=BACKLOG)
    await site.start()
    announce(runner.addresses[0][1])
    await asyncio.Event().wait()


def unavailable(reason: str) -> int:
    print(json.dumps({"unavailable": reason}), flush=True)
    return EXIT_UNAVAILABLE


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("loop", choices=LOOP_NAMES)
    parser.add_argument("style", choices=STYLES)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--cold-malloc", action="store_true", help="skip warm_malloc()")
    args = parser.parse_args(argv)
    if not args.cold_malloc:
        warm_malloc()

    reason = unavailable_reason(args.loop)
    if reason is not None:
        return unavailable(f"{args.loop}: {reason}")
    if args.style == "aiohttp":
        try:
            import aiohttp  # noqa: F401
        except ImportError as exc:
            return unavailable(f"aiohttp is not installed ({exc})")

    servers = {
        "sock": lambda: serve_sock(args.host),
        "streams": lambda: serve_streams(args.host),
        "protocol": lambda: serve_protocol(args.host, EchoProtocol),
        "http": lambda: serve_protocol(args.host, HttpProtocol),
        "aiohttp": lambda: serve_aiohttp(args.host),
        "tls": lambda: serve_protocol(args.host, EchoProtocol, tls_context()),
        "https": lambda: serve_protocol(args.host, HttpProtocol, tls_context()),
    }
    loop = new_loop(args.loop)
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(servers[args.style]())  # serves until the process is killed
    except NotImplementedError as exc:  # raised before the port is announced (rloop: TLS)
        return unavailable(f"{args.loop} does not implement this: NotImplementedError {exc}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
