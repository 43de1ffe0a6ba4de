"""The connection pool: keep-alive reuse, ``limit``, ``limit_per_host``, ``force_close``,
when a connection goes back to the pool or is closed, and what happens when the server
has closed a pooled connection. Connections are counted on the server side."""

from __future__ import annotations

import asyncio

import pytest
from _http_servers import canned, raw_server, response, run, web_server
from aiohttp import web

OK = response("200 OK", b"ok")
EMPTY = response("200 OK", b"")  # also a valid answer to HEAD


async def _ok(request):
    return web.Response(text="ok")


async def get_ok(s, url: str) -> None:
    async with s.get(url) as r:
        assert (r.status, await r.text()) == (200, "ok")


def test_keep_alive_reuses_one_connection(http, loop):
    async def main():
        async with web_server(web.get("/", _ok)) as srv:
            async with http.ClientSession() as s:
                for _ in range(3):
                    await get_ok(s, srv.url())
        assert srv.conns == [0, 0, 0]

    run(loop, main())


def test_session_close_closes_pooled_connections(http, loop):
    async def main():
        async with raw_server(canned(OK)) as srv:
            s = http.ClientSession()
            await asyncio.gather(*(get_ok(s, srv.url()) for _ in range(2)))
            assert srv.closed == 0
            await s.close()
            await srv.wait_for(lambda: srv.closed == srv.connections == 2)

    run(loop, main())


def test_force_close(http, loop):
    """force_close: one connection per request, and ``Connection: close`` on the wire."""

    async def main():
        async with raw_server(canned(OK)) as srv:
            conn = http.TCPConnector(force_close=True)
            async with http.ClientSession(connector=conn) as s:
                for _ in range(3):
                    await get_ok(s, srv.url())
                await srv.wait_for(lambda: srv.closed == 3)
        assert srv.connections == 3
        assert all(b"\r\nConnection: close\r\n" in req for req in srv.requests)

    run(loop, main())


def test_limit_one_serialises_requests(http, loop):
    async def main():
        active = [0, 0]  # now, most at once

        async def handler(request):
            active[0] += 1
            active[1] = max(active)
            await asyncio.sleep(0)
            active[0] -= 1
            return web.Response(text="ok")

        async with web_server(web.get("/", handler)) as srv:
            conn = http.TCPConnector(limit=1)
            async with http.ClientSession(connector=conn) as s:
                await asyncio.gather(*(get_ok(s, srv.url()) for _ in range(5)))
        assert srv.conns == [0] * 5
        assert active[1] == 1

    run(loop, main())


def barrier(parties: int):
    """A handler whose first ``parties`` requests each wait until all of them are in."""
    state = {"in": 0, "all": asyncio.Event()}

    async def handler(request):
        state["in"] += 1
        if state["in"] == parties:
            state["all"].set()
        if state["in"] <= parties:
            await asyncio.wait_for(state["all"].wait(), 5)
        return web.Response(text="ok")

    return handler


def test_limit_caps_open_connections(http, loop):
    async def main():
        async with web_server(web.get("/", barrier(2))) as srv:
            conn = http.TCPConnector(limit=2)
            async with http.ClientSession(connector=conn) as s:
                await asyncio.gather(*(get_ok(s, srv.url()) for _ in range(6)))
        assert srv.connections == 2

    run(loop, main())


def test_unlimited_opens_a_connection_per_concurrent_request(http, loop):
    async def main():
        async with web_server(web.get("/", barrier(4))) as srv:
            conn = http.TCPConnector(limit=0)
            async with http.ClientSession(connector=conn) as s:
                await asyncio.gather(*(get_ok(s, srv.url()) for _ in range(4)))
        assert sorted(srv.conns) == [0, 1, 2, 3]

    run(loop, main())


def test_limit_per_host(http, loop):
    """limit_per_host=1: each host gets one connection, and the two hosts' requests run at
    the same time (both hosts' first requests wait for each other)."""

    async def main():
        both = barrier(2)
        routes = [web.get("/", both)]
        async with web_server(*routes) as one, web_server(*routes) as two:
            conn = http.TCPConnector(limit_per_host=1)
            async with http.ClientSession(connector=conn) as s:
                urls = [one.url(), two.url()] * 3
                await asyncio.gather(*(get_ok(s, u) for u in urls))
        assert one.conns == [0, 0, 0]
        assert two.conns == [0, 0, 0]

    run(loop, main())


@pytest.mark.parametrize("how", ["context", "release"])
def test_read_response_returns_its_connection(http, loop, how):
    """After the body is read, leaving the ``async with`` or calling release() puts the
    connection back: with limit=1 the next request gets the same one."""

    async def main():
        async with web_server(web.get("/", _ok)) as srv:
            conn = http.TCPConnector(limit=1)
            async with http.ClientSession(connector=conn) as s:
                for _ in range(3):
                    if how == "context":
                        await get_ok(s, srv.url())
                    else:
                        r = await s.get(srv.url())
                        assert await r.read() == b"ok"
                        r.release()
        assert srv.conns == [0, 0, 0]

    run(loop, main())


async def partial_body(srv, reader, writer):
    """Every answer promises 10 bytes and sends 5 of them."""
    while await srv.read_request(reader) is not None:
        writer.write(response("200 OK", b"", "Content-Length: 10", length=False) + b"01234")


@pytest.mark.parametrize("how", ["exit", "release", "close"])
def test_incomplete_response_closes_its_connection(http, loop, how):
    """A response left before its body is complete (context exit, release() or close())
    closes its connection rather than pooling it: the next request opens a new one."""

    async def main():
        async with raw_server(partial_body) as srv:
            async with http.ClientSession() as s:
                async with s.get(srv.url()) as r:
                    assert r.status == 200
                    assert await r.content.readexactly(5) == b"01234"
                    if how != "exit":
                        getattr(r, how)()
                        assert r.closed
                await srv.wait_for(lambda: srv.closed == 1)
                async with s.get(srv.url()) as r:
                    assert r.status == 200
        assert srv.connections == 2

    run(loop, main())


def test_server_closed_idle_connection(http, loop):
    """The server closes a pooled connection; the next GET still succeeds, on a new one."""

    async def main():
        async with raw_server(canned(OK, close=True)) as srv:
            async with http.ClientSession() as s:
                await get_ok(s, srv.url())
                await srv.wait_for(lambda: srv.closed == 1)
                await get_ok(s, srv.url())
        assert srv.connections == 2

    run(loop, main())


async def stale_first_connection(srv, reader, writer):
    """The first connection answers one request, then closes on reading the next one."""
    first = srv.connections == 1
    while await srv.read_request(reader) is not None:
        if first and len(srv.requests) > 1:
            return
        writer.write(EMPTY)


@pytest.mark.parametrize("method", ["GET", "HEAD", "PUT", "DELETE", "OPTIONS", "POST", "PATCH"])
def test_reused_connection_closed_without_answer(http, loop, method):
    """A pooled connection dies under a request: an idempotent method is sent once more on
    a new connection; POST and PATCH raise ServerDisconnectedError and are not resent."""
    idempotent = method not in ("POST", "PATCH")

    async def main():
        async with raw_server(stale_first_connection) as srv:
            async with http.ClientSession() as s:
                async with s.request(method, srv.url()) as r:
                    assert r.status == 200
                    await r.read()
                if idempotent:
                    async with s.request(method, srv.url()) as r:
                        assert r.status == 200
                else:
                    with pytest.raises(http.ServerDisconnectedError):
                        await s.request(method, srv.url())
        assert srv.connections == (2 if idempotent else 1)
        assert len(srv.requests) == (3 if idempotent else 2)

    run(loop, main())
