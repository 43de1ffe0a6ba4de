"""Reading a response body piece by piece through ``response.content``: read(n), readline,
readany, readexactly, the iterators, at_eof; chunked transfer coding and large bodies.

Where a test depends on how the body arrives, the server sends one piece per step and the
client asks for each step (``stepped``), so every read sees exactly one piece.
"""

from __future__ import annotations

import asyncio
import os

import pytest
from _http_servers import canned, chunked, raw_server, response, run, web_server
from aiohttp import web

DIGITS = b"0123456789"
CHUNKED = "Transfer-Encoding: chunked"


def stepped(head: bytes, pieces: list[bytes], steps: asyncio.Queue):
    """A handler that sends ``head``, then one piece per item taken from ``steps``."""

    async def handler(srv, reader, writer):
        await srv.read_request(reader)
        writer.write(head)
        for piece in pieces:
            await steps.get()
            writer.write(piece)
            await writer.drain()
        await reader.read()  # until the client closes

    return handler


async def fetch(http, wire: bytes, reader):
    """GET from a server answering ``wire``; returns ``await reader(response)``."""
    async with raw_server(canned(wire)) as srv:
        async with http.ClientSession() as s:
            async with s.get(srv.url()) as r:
                return await reader(r)


def test_read_n_returns_at_most_n(http, loop):
    async def reader(r):
        assert r.content.at_eof() is False
        got = [await r.content.read(4) for _ in range(3)]
        assert r.content.at_eof() is True
        got.append(await r.content.read(4))
        got.append(await r.content.read())
        return got

    got = run(loop, fetch(http, response("200 OK", DIGITS), reader))
    assert got == [b"0123", b"4567", b"89", b"", b""]


def test_read_rest_after_partial_read(http, loop):
    async def reader(r):
        return await r.content.read(3), await r.read()

    assert run(loop, fetch(http, response("200 OK", DIGITS), reader)) == (b"012", b"3456789")


def test_readline_and_line_iteration(http, loop):
    body = b"one\ntwo\r\n\nlast"

    async def by_readline(r):
        return [await r.content.readline() for _ in range(5)]

    async def by_iteration(r):
        return [line async for line in r.content]

    wire = response("200 OK", body)
    lines = [b"one\n", b"two\r\n", b"\n", b"last"]
    assert run(loop, fetch(http, wire, by_readline)) == lines + [b""]
    assert run(loop, fetch(http, wire, by_iteration)) == lines


def test_readexactly(http, loop):
    async def reader(r):
        got = [await r.content.readexactly(3), await r.content.readexactly(5)]
        with pytest.raises(asyncio.IncompleteReadError) as err:
            await r.content.readexactly(4)
        return got, err.value.partial, err.value.expected

    got = run(loop, fetch(http, response("200 OK", DIGITS), reader))
    assert got == ([b"012", b"34567"], b"89", 4)


def test_iter_chunked(http, loop):
    async def reader(r):
        return [c async for c in r.content.iter_chunked(4)]

    got = run(loop, fetch(http, response("200 OK", DIGITS), reader))
    assert got == [b"0123", b"4567", b"89"]


def test_iter_chunks_marks_http_chunk_ends(http, loop):
    """For a chunked body each HTTP chunk comes out whole with True, even when all of them
    arrived together; trailers and chunk extensions are accepted and dropped."""
    body = b"2\r\nab\r\n3;ext=1\r\ncde\r\n1\r\nf\r\n0\r\nX-Trailer: t\r\n\r\n"
    wire = response("200 OK", body, CHUNKED, length=False)

    async def reader(r):
        assert r.content_length is None
        return [c async for c in r.content.iter_chunks()]

    assert run(loop, fetch(http, wire, reader)) == [(b"ab", True), (b"cde", True), (b"f", True)]


@pytest.mark.parametrize("encoding", ["length", "chunked"])
def test_readany_and_iter_any_yield_each_piece(http, loop, encoding):
    pieces = [b"first", b"second", b"third"]
    if encoding == "chunked":
        head = response("200 OK", b"", CHUNKED, length=False)
        wire_pieces = [chunked(p)[:-5] for p in pieces] + [b"0\r\n\r\n"]
    else:
        head = response("200 OK", b"", f"Content-Length: {sum(map(len, pieces))}", length=False)
        wire_pieces = pieces

    async def main():
        steps = asyncio.Queue()
        async with raw_server(stepped(head, wire_pieces, steps)) as srv:
            async with http.ClientSession() as s:
                async with s.get(srv.url()) as r:
                    steps.put_nowait(1)
                    got = [await r.content.readany()]
                    assert r.content.at_eof() is False
                    steps.put_nowait(1)
                    async for piece in r.content.iter_any():
                        got.append(piece)
                        steps.put_nowait(1)
                    assert r.content.at_eof() is True
                    assert await r.content.readany() == b""
        return got

    assert run(loop, main()) == pieces


def test_iter_chunks_without_chunked_coding(http, loop):
    head = response("200 OK", b"", "Content-Length: 6", length=False)

    async def main():
        steps = asyncio.Queue()
        async with raw_server(stepped(head, [b"abc", b"def"], steps)) as srv:
            async with http.ClientSession() as s:
                async with s.get(srv.url()) as r:
                    got = []
                    for _ in range(2):
                        steps.put_nowait(1)
                        got.append(await r.content.readchunk())
                    got.append(await r.content.readchunk())
        return got

    assert run(loop, main()) == [(b"abc", False), (b"def", False), (b"", False)]


def test_readexactly_across_pieces(http, loop):
    head = response("200 OK", b"", "Content-Length: 10", length=False)

    async def main():
        steps = asyncio.Queue()
        for _ in range(3):
            steps.put_nowait(1)
        async with raw_server(stepped(head, [b"01", b"2345", b"6789"], steps)) as srv:
            async with http.ClientSession() as s:
                async with s.get(srv.url()) as r:
                    return await r.content.readexactly(7), await r.content.read()

    assert run(loop, main()) == (b"0123456", b"789")


BIG = os.urandom(3 * 1024 * 1024 + 17)


async def _big(request):
    return web.Response(body=BIG)


async def _big_streamed(request):
    resp = web.StreamResponse()  # no length: chunked
    await resp.prepare(request)
    for i in range(0, len(BIG), 100_000):
        await resp.write(BIG[i : i + 100_000])
    await resp.write_eof()
    return resp


@pytest.mark.parametrize("path", ["/big", "/streamed"])
def test_large_body(http, loop, path):
    async def main():
        routes = [web.get("/big", _big), web.get("/streamed", _big_streamed)]
        async with web_server(*routes) as srv:
            async with http.ClientSession() as s:
                async with s.get(srv.url(path)) as r:
                    whole = await r.read()
                    length = r.content_length
                    te = r.headers.get("Transfer-Encoding")
                async with s.get(srv.url(path)) as r:
                    parts = [c async for c in r.content.iter_chunked(65536)]
        assert srv.conns == [0, 0]
        return whole, length, te, parts

    whole, length, te, parts = run(loop, main())
    assert whole == BIG
    if path == "/big":
        assert (length, te) == (len(BIG), None)
    else:
        assert (length, te) == (None, "chunked")
    assert b"".join(parts) == BIG
    assert all(0 < len(p) <= 65536 for p in parts)


def test_empty_stream_reader(http, loop):
    module = http if http.__name__ == "aioxide.http" else http.streams

    async def main():
        r = module.EmptyStreamReader()
        return (await r.read(), await r.read(3), await r.readline(), await r.readany(),
                [c async for c in r.iter_chunked(2)], r.at_eof())

    assert run(loop, main()) == (b"", b"", b"", b"", [], True)
