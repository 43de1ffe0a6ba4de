"""The client against two other real servers, uvicorn and hypercorn, each run on the
test's loop: keep-alive GETs on one connection, a large POST echoed back, a streamed
(chunked) answer read piece by piece, and HEAD."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket

import pytest
from _http_servers import run

BODY = os.urandom(300_000)


async def app(scope, receive, send):
    """GET / -> the client's port; POST /echo -> the body; GET /stream -> 5 pieces."""
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    path = scope["path"]
    if path == "/stream":
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/octet-stream")]})
        for i in range(5):
            await send({"type": "http.response.body", "body": bytes([65 + i]) * 1000,
                        "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        return
    answer = body if path == "/echo" else str(scope["client"][1]).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-length", str(len(answer)).encode())]})
    await send({"type": "http.response.body", "body": answer})


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.asynccontextmanager
async def uvicorn_server():
    uvicorn = pytest.importorskip("uvicorn")
    config = uvicorn.Config(app, host="127.0.0.1", port=0, loop="none", lifespan="off",
                            log_level="warning")
    server = uvicorn.Server(config)
    task = asyncio.ensure_future(server.serve())
    try:
        while not server.started and not task.done():
            await asyncio.sleep(0.01)
        yield server.servers[0].sockets[0].getsockname()[1]
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


@contextlib.asynccontextmanager
async def hypercorn_server():
    pytest.importorskip("hypercorn")
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    config = Config()
    port = _free_port()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = config.errorlog = None
    stop = asyncio.Event()
    task = asyncio.ensure_future(serve(app, config, shutdown_trigger=stop.wait))
    try:
        while not task.done():  # until it accepts
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.01)
                continue
            writer.close()
            await writer.wait_closed()
            break
        yield port
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


SERVERS = {"uvicorn": uvicorn_server, "hypercorn": hypercorn_server}


@pytest.mark.parametrize("server", list(SERVERS))
def test_against_asgi_server(http, loop, server):
    async def main():
        async with SERVERS[server]() as port:
            base = f"http://127.0.0.1:{port}"
            async with http.ClientSession() as s:
                ports = []
                for _ in range(3):
                    async with s.get(base + "/") as r:
                        ports.append(await r.text())
                async with s.post(base + "/echo", data=BODY) as r:
                    echoed = await r.read()
                async with s.get(base + "/stream") as r:
                    pieces = [c async for c in r.content.iter_chunked(1500)]
                async with s.head(base + "/") as r:
                    head = (r.status, await r.read())
        return ports, echoed, pieces, head

    ports, echoed, pieces, head = run(loop, main())
    assert len(set(ports)) == 1  # one kept-alive connection
    assert echoed == BODY
    assert b"".join(pieces) == b"".join(bytes([65 + i]) * 1000 for i in range(5))
    assert all(0 < len(p) <= 1500 for p in pieces)
    assert head == (200, b"")
