"""TraceConfig: the events a request goes through, in order, with their parameters."""

from __future__ import annotations

import asyncio

import pytest
from _http_servers import canned, raw_server, response, run, web_server
from aiohttp import web


async def _hello(request):
    return web.Response(text="hi")


async def _moved(request):
    raise web.HTTPFound("/hello")


def recorder(http, events: list):
    config = http.TraceConfig()
    names = ["request_start", "request_end", "request_exception", "request_redirect",
             "request_headers_sent", "connection_queued_start", "connection_queued_end",
             "connection_create_start", "connection_create_end", "connection_reuseconn"]
    for name in names:
        async def cb(session, ctx, params, name=name):
            events.append((name, ctx.trace_request_ctx, params))
        getattr(config, f"on_{name}").append(cb)
    return config


def test_events_of_requests(http, loop):
    events = []

    async def main():
        routes = [web.get("/hello", _hello), web.get("/moved", _moved)]
        async with web_server(*routes) as srv:
            config = recorder(http, events)
            async with http.ClientSession(trace_configs=[config]) as s:
                async with s.get(srv.url("/hello"), trace_request_ctx="one") as r:
                    await r.read()
                async with s.get(srv.url("/moved"), trace_request_ctx="two") as r:
                    assert await r.text() == "hi"
            with pytest.raises(RuntimeError):
                config.on_request_start.append(None)  # frozen by the session
        return srv

    srv = run(loop, main())
    names = [(n, ctx) for n, ctx, _ in events]
    assert names == [
        ("request_start", "one"), ("connection_create_start", "one"),
        ("connection_create_end", "one"), ("request_headers_sent", "one"),
        ("request_end", "one"),
        ("request_start", "two"), ("connection_reuseconn", "two"),
        ("request_headers_sent", "two"), ("request_redirect", "two"),
        ("connection_reuseconn", "two"), ("request_headers_sent", "two"),
        ("request_end", "two"),
    ]
    start = events[0][2]
    assert (start.method, str(start.url)) == ("GET", srv.url("/hello"))
    end = events[4][2]
    assert end.response.status == 200
    redirect = events[8][2]
    assert (redirect.response.status, str(redirect.url)) == (302, srv.url("/moved"))


def test_exception_event(http, loop):
    events = []

    async def main():
        async with raw_server(canned(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab")) as srv:
            pass
        async with http.ClientSession(trace_configs=[recorder(http, events)]) as s:
            with pytest.raises(http.ClientConnectorError):
                await s.get(srv.url())

    run(loop, main())
    name, _, params = events[-1]
    assert name == "request_exception"
    assert isinstance(params.exception, http.ClientConnectorError)
    assert params.method == "GET"


def test_queued_events_at_the_limit(http, loop):
    events = []
    wire = response("200 OK", b"x")

    async def main():
        async with raw_server(canned(wire)) as srv:
            conn = http.TCPConnector(limit=1)
            config = recorder(http, events)
            async with http.ClientSession(connector=conn, trace_configs=[config]) as s:
                async def get():
                    async with s.get(srv.url()) as r:
                        await r.read()
                await asyncio.gather(get(), get())

    run(loop, main())
    names = [n for n, _, _ in events]
    assert names.count("connection_queued_start") == names.count("connection_queued_end") == 1
