"""uvicorn serves on the loop it is started on (``loop="none"``): on aioxide and on stdlib
asyncio alike, and on aioxide the watchdog names the line of a blocking ASGI handler."""

from __future__ import annotations

import asyncio
import logging
import time

import aioxide.debug
import pytest

uvicorn = pytest.importorskip("uvicorn")

BLOCK_LINE = None


async def app(scope, receive, send):
    global BLOCK_LINE
    if scope["type"] != "http":
        return
    if scope["path"] == "/block":
        BLOCK_LINE = BLOCK_LINE or _line_of_sleep()
        time.sleep(0.3)
    body = f"hello {scope['path']}".encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def _line_of_sleep() -> int:
    import inspect

    lines, start = inspect.getsourcelines(app)
    return start + next(i for i, text in enumerate(lines) if "time.sleep(" in text)


async def _get(port: int, path: str) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode())
    data = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    await writer.wait_closed()
    return data


async def _serve_and_get(paths):
    config = uvicorn.Config(app, host="127.0.0.1", port=0, loop="none", lifespan="off",
                            log_level="warning")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(500):
            if server.started or task.done():
                break
            await asyncio.sleep(0.01)
        assert server.started
        port = server.servers[0].sockets[0].getsockname()[1]
        return [await _get(port, path) for path in paths]
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


def test_uvicorn_serves(loop):
    replies = loop.run_until_complete(_serve_and_get(["/", "/x"]))
    for reply, path in zip(replies, ["/", "/x"], strict=True):
        assert reply.startswith(b"HTTP/1.1 200 OK\r\n")
        assert reply.endswith(f"hello {path}".encode())


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records = []

    def emit(self, record):
        self.records.append(record)


def test_watchdog_names_the_blocking_line_under_uvicorn(aioxide_loop):
    handler = _Collect()
    log = logging.getLogger("aioxide.debug")
    log.addHandler(handler)
    try:
        aioxide.debug.watchdog(0.1, loop=aioxide_loop)
        replies = aioxide_loop.run_until_complete(_serve_and_get(["/block"]))
    finally:
        log.removeHandler(handler)
    assert replies[0].endswith(b"hello /block")
    messages = [r.getMessage() for r in handler.records]
    assert len(messages) == 1, messages
    assert f"{__file__}:{BLOCK_LINE}" in messages[0]
    assert "task: 'Task-" in messages[0]
    assert "RequestResponseCycle.run_asgi" in messages[0]
