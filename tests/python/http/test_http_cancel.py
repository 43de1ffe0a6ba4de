"""Cancelled requests give back what they hold: a request cancelled at any point (waiting
for a pool slot, connecting, sending, waiting for the head, reading the body) frees its
pool slot, and closes its connection unless the connection is clean."""

from __future__ import annotations

import asyncio
import os
import random

from _http_servers import run, web_server
from aiohttp import web

# Requests per test; AIOXIDE_HTTP_CANCEL_N=10000 for the full count.
COUNT = int(os.environ.get("AIOXIDE_HTTP_CANCEL_N", "600"))
LIMIT = 8


async def _streamed(request):
    """A body in several pieces, so a cancellation can land in the middle of it."""
    resp = web.StreamResponse()
    resp.content_length = 4 * 1000
    await resp.prepare(request)
    try:
        for _ in range(4):
            await resp.write(b"x" * 1000)
            await asyncio.sleep(0)
    except ConnectionError:
        pass  # the client cancelled and closed: expected here
    return resp


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_random_cancellations_leak_nothing(http, loop):
    rng = random.Random(28)

    async def one(s, url):
        async with s.get(url) as r:
            assert r.status == 200
            assert len(await r.read()) == 4000

    async def cancel_later(task, steps: int):
        for _ in range(steps):
            await asyncio.sleep(0)
        task.cancel()

    async def main():
        async with web_server(web.get("/", _streamed)) as srv:
            before = _open_fds()
            conn = http.TCPConnector(limit=LIMIT)
            async with http.ClientSession(connector=conn) as s:
                batch = []
                for i in range(COUNT):
                    task = asyncio.ensure_future(one(s, srv.url()))
                    batch.append(task)
                    if rng.random() < 0.7:
                        batch.append(asyncio.ensure_future(cancel_later(task, rng.randrange(12))))
                    if len(batch) >= 4 * LIMIT or i == COUNT - 1:
                        await asyncio.gather(*batch, return_exceptions=True)
                        batch = []
                done = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
                assert all(t.done() for t in done if t.get_coro().__name__ == "one")
                # Every slot is free again: LIMIT requests at once all get a connection.
                await asyncio.wait_for(asyncio.gather(*(one(s, srv.url())
                                                        for _ in range(LIMIT))), 5)
            for _ in range(5):  # closed transports let go of their sockets a step later
                await asyncio.sleep(0)
            assert _open_fds() <= before

    run(loop, main(), timeout=120)
