"""Request bodies: what each kind of ``data=`` (and ``json=``) becomes on the wire, with
its Content-Type, Content-Length or chunked Transfer-Encoding, and compression."""

from __future__ import annotations

import asyncio
import gzip
import io
import json
import os
import zlib

import aioxide.fs
import pytest
from _http_servers import echo, header_pairs, raw_server, response, run, web_server
from aiohttp import web


def split(raw: bytes) -> tuple[dict[str, str], bytes]:
    """A raw request's headers (as a dict) and its body as sent (still chunked)."""
    head, body = raw.split(b"\r\n\r\n", 1)
    return dict(header_pairs(head)), body


def dechunk(body: bytes) -> bytes:
    out = []
    while True:
        size_line, body = body.split(b"\r\n", 1)
        size = int(size_line, 16)
        if size == 0:
            assert body == b"\r\n"
            return b"".join(out)
        out.append(body[:size])
        assert body[size : size + 2] == b"\r\n"
        body = body[size + 2 :]


async def post(http, data=None, **kwargs) -> bytes:
    """POSTs to an echo server; returns the raw request as the server read it."""
    async with raw_server(echo) as srv:
        async with http.ClientSession() as s:
            async with s.post(srv.url("/up"), data=data, **kwargs) as r:
                assert r.status == 200
                return await r.read()


FORM = "application/x-www-form-urlencoded"
# id -> (data factory, Content-Type, body)
SIZED = {
    "bytes": (lambda http: b"\x00\x01raw", "application/octet-stream", b"\x00\x01raw"),
    "bytearray": (lambda http: bytearray(b"abc"), "application/octet-stream", b"abc"),
    "str": (lambda http: "héllo", "text/plain; charset=utf-8", "héllo".encode()),
    "dict": (lambda http: {"a": "1", "b": "x y&z"}, FORM, b"a=1&b=x+y%26z"),
    "pairs": (lambda http: [("k", "1"), ("k", "2")], FORM, b"k=1&k=2"),
    "formdata": (lambda http: http.FormData({"e": "é"}), FORM, b"e=%C3%A9"),
    "bytesio": (lambda http: io.BytesIO(b"in memory"), "application/octet-stream", b"in memory"),
    "stringio": (lambda http: io.StringIO("héllo"), "text/plain; charset=utf-8", "héllo".encode()),
}


@pytest.mark.parametrize("case", list(SIZED))
def test_sized_bodies(http, loop, case):
    make, ctype, body = SIZED[case]
    headers, sent = split(run(loop, post(http, make(http))))
    assert sent == body
    assert headers["Content-Type"] == ctype
    assert headers["Content-Length"] == str(len(body))
    assert "Transfer-Encoding" not in headers


def test_json_body(http, loop):
    value = {"a": [1, "é", None], "b": {"c": True}}
    headers, sent = split(run(loop, post(http, json=value)))
    assert headers["Content-Type"] == "application/json"
    assert headers["Content-Length"] == str(len(sent))
    assert json.loads(sent) == value


def test_explicit_content_type_wins(http, loop):
    raw = run(loop, post(http, b"x", headers={"content-type": "application/x-mine"}))
    types = [v for k, v in header_pairs(raw) if k.lower() == "content-type"]
    assert types == ["application/x-mine"]


def test_async_generator_is_sent_chunked(http, loop):
    parts = [b"first,", b"", b"second,", b"x" * 70000]

    async def gen():
        for part in parts:
            yield part

    headers, sent = split(run(loop, post(http, gen())))
    assert headers["Transfer-Encoding"] == "chunked"
    assert "Content-Length" not in headers
    assert headers["Content-Type"] == "application/octet-stream"
    assert dechunk(sent) == b"".join(parts)


def test_chunked_true(http, loop):
    headers, sent = split(run(loop, post(http, b"hello", chunked=True)))
    assert headers["Transfer-Encoding"] == "chunked"
    assert "Content-Length" not in headers
    assert dechunk(sent) == b"hello"


@pytest.mark.parametrize("compress", ["deflate", "gzip"])
def test_compress(http, loop, compress):
    data = b"squeeze me " * 1000
    headers, sent = split(run(loop, post(http, data, compress=compress)))
    assert headers["Content-Encoding"] == compress
    assert headers["Transfer-Encoding"] == "chunked"
    assert "Content-Length" not in headers
    packed = dechunk(sent)
    assert len(packed) < len(data)
    assert (zlib.decompress(packed) if compress == "deflate" else gzip.decompress(packed)) == data


def test_file_object_from_open(http, loop, tmp_path):
    """A file opened with open() is sent with its size as the Content-Length and a
    content type guessed from its name."""
    data = os.urandom(100_000)
    path = tmp_path / "data.txt"
    path.write_bytes(data)

    async def main():
        with open(path, "rb") as f:
            return await post(http, f)

    headers, sent = split(run(loop, main()))
    assert headers["Content-Length"] == str(len(data))
    assert "Transfer-Encoding" not in headers
    assert headers["Content-Type"] == "text/plain"
    assert sent == data


def test_aioxide_fs_file(http, loop, tmp_path):
    """An ``aioxide.fs`` file (aiohttp takes it as an async iterable) is streamed."""
    data = os.urandom(200_000) + b"\nend"
    path = tmp_path / "data.bin"
    path.write_bytes(data)

    async def main():
        async with await aioxide.fs.open(path, "rb") as f:
            return await post(http, f)

    headers, sent = split(run(loop, main()))
    assert headers["Transfer-Encoding"] == "chunked"
    assert "Content-Length" not in headers
    assert dechunk(sent) == data


async def _form(request):
    form = await request.post()
    fields = []
    for name, value in form.items():
        if isinstance(value, web.FileField):
            value = [value.filename, value.content_type, value.file.read().decode()]
        fields.append([name, value])
    return web.json_response({"type": request.content_type, "fields": fields})


def test_formdata_multipart_with_file(http, loop, tmp_path):
    path = tmp_path / "notes.txt"
    path.write_bytes(b"line one\nline two\n")

    async def main():
        async with web_server(web.post("/form", _form)) as srv:
            async with http.ClientSession() as s:
                with open(path, "rb") as f:
                    form = http.FormData()
                    form.add_field("name", "välue")
                    form.add_field("upload", f)
                    form.add_field("blob", b"\x01\x02", filename="b.bin",
                                   content_type="application/x-blob")
                    async with s.post(srv.url("/form"), data=form) as r:
                        assert r.status == 200
                        return await r.json()

    got = run(loop, main())
    assert got["type"] == "multipart/form-data"
    assert got["fields"] == [
        ["name", "välue"],
        ["upload", ["notes.txt", "text/plain", "line one\nline two\n"]],
        ["blob", ["b.bin", "application/x-blob", "\x01\x02"]],
    ]


def test_data_and_json_together_raise_value_error(http, loop):
    async def main():
        async with raw_server(echo) as srv:
            async with http.ClientSession() as s:
                with pytest.raises(ValueError):
                    await s.post(srv.url(), data=b"x", json={"a": 1})
                async with s.post(srv.url(), json={"a": 1}) as r:
                    assert r.status == 200
        assert len(srv.requests) == 1

    run(loop, main())


def test_expect_100_continue(http, loop):
    """With expect100 the body waits for the server's ``100 Continue``."""
    seen = {}

    async def handler(srv, reader, writer):
        head = await reader.readuntil(b"\r\n\r\n")
        seen["expect"] = b"\r\nexpect: 100-continue\r\n" in head.lower()
        await asyncio.sleep(0)  # let a body sent along with the head arrive
        seen["early"] = len(reader._buffer)
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        body = await reader.readexactly(5)
        writer.write(response("200 OK", body))
        await writer.drain()
        await reader.read()

    async def main():
        async with raw_server(handler) as srv:
            async with http.ClientSession() as s:
                async with s.post(srv.url(), data=b"hello", expect100=True) as r:
                    return r.status, await r.read()

    assert run(loop, main()) == (200, b"hello")
    assert seen == {"expect": True, "early": 0}


@pytest.mark.parametrize("kind", ["bytes", "stream"])
def test_caller_content_length_cuts_the_body(http, loop, kind):
    """A body longer than the caller's Content-Length goes out cut to it (as with
    aiohttp), so the kept-alive connection stays in step for the next request."""
    data = b"a" * 600 + b"b" * 600

    async def gen():
        yield data[:600]
        yield data[600:]

    async def main():
        async with raw_server(echo) as srv, http.ClientSession() as s:
            body = data if kind == "bytes" else gen()
            async with s.post(srv.url("/up"), data=body, headers={"Content-Length": "800"}) as r:
                first = await r.read()
            async with s.get(srv.url("/next")) as r:
                second = await r.read()
            return first, second, srv.connections

    first, second, connections = run(loop, main())
    headers, sent = split(first)
    assert (headers["Content-Length"], sent) == ("800", data[:800])
    assert second.startswith(b"GET /next ")
    assert connections == 1


def test_early_answer_does_not_wait_for_the_body(http, loop):
    """A server that answers before reading a streamed body (413 here) is heard at once;
    the body stops, and the connection is not reused."""
    gate = asyncio.Event()

    async def slow():
        yield b"start"
        await gate.wait()  # never set: only an early answer ends this request
        yield b"never"

    async def early(srv, reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        writer.write(response("413 Payload Too Large", b"too big"))
        await writer.drain()
        await reader.read()

    async def main():
        async with raw_server(early) as srv, http.ClientSession() as s:
            async with s.post(srv.url(), data=slow()) as r:
                assert (r.status, await r.read()) == (413, b"too big")
            await srv.wait_for(lambda: srv.closed == 1)

    run(loop, main(), timeout=10)


def test_body_source_failure_raises_client_connection_error(http, loop):
    """What the body's source raises reaches the caller as ClientConnectionError (as in
    aiohttp), with the original as its cause."""

    async def broken():
        yield b"first"
        raise ValueError("source broke")

    async def main():
        async with raw_server(echo) as srv, http.ClientSession() as s:
            with pytest.raises(http.ClientConnectionError) as err:
                async with s.post(srv.url(), data=broken()) as r:
                    await r.read()
            return err.value

    exc = run(loop, main())
    assert isinstance(exc.__cause__, ValueError)


def test_sock_read_counts_from_the_end_of_the_body(http, loop):
    """A streamed body slower than ``sock_read`` is no read timeout: the wait for the
    answer starts once the body is out, as in aiohttp."""

    async def slow():
        await asyncio.sleep(0.4)
        yield b"late"

    async def main():
        async with raw_server(echo) as srv, http.ClientSession() as s:
            timeout = http.ClientTimeout(total=None, sock_read=0.2)
            async with s.put(srv.url(), data=slow(), timeout=timeout) as r:
                return await r.read()

    assert dechunk(split(run(loop, main()))[1]) == b"late"
