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


def test_start_failure_reaches_only_started_traces(http, loop):
    """A TraceConfig whose on_request_start raises gets no on_request_exception; the
    configs before it, whose start completed, do."""
    seen = {"good": [], "bad": []}

    def config(name, start):
        trace = http.TraceConfig()
        trace.on_request_start.append(start)

        async def failed(session, ctx, params):
            seen[name].append(params.exception)

        trace.on_request_exception.append(failed)
        return trace

    async def fine(session, ctx, params):
        pass

    async def boom(session, ctx, params):
        raise RuntimeError("trace boom")

    async def main():
        async with web_server(web.get("/", _hello)) as srv:
            configs = [config("good", fine), config("bad", boom)]
            async with http.ClientSession(trace_configs=configs) as s:
                with pytest.raises(RuntimeError, match="trace boom"):
                    await s.get(srv.url("/"))

    run(loop, main())
    assert [type(e) for e in seen["good"]] == [RuntimeError]
    assert seen["bad"] == []


def test_response_chunk_received_on_read(http, loop):
    """``read()`` sends the whole body as one response_chunk_received, as aiohttp does."""
    chunks = []
    config = http.TraceConfig()

    async def received(session, ctx, params):
        chunks.append((params.method, str(params.url), params.chunk))

    config.on_response_chunk_received.append(received)

    async def main():
        async with web_server(web.get("/hello", _hello)) as srv:
            async with http.ClientSession(trace_configs=[config]) as s:
                async with s.get(srv.url("/hello")) as r:
                    assert await r.text() == "hi"
                return srv.url("/hello")

    url = run(loop, main())
    assert chunks == [("GET", url, b"hi")]
