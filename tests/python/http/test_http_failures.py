"""Bad input and failures: malformed heads and bodies, limits, invalid URLs, refused
connections, content codings and timeouts. After each failure the next request on the
same session works, on a new connection when the failed one cannot be trusted."""

from __future__ import annotations

import asyncio
import gzip
import socket
import zlib

import pytest
from _http_servers import canned, chunked, raw_server, response, run

OK = response("200 OK", b"ok")
CHUNKED = "Transfer-Encoding: chunked"


def first_bad(bad: bytes, *, close: bool = False):
    """A handler answering the server's first request with ``bad`` (then closing the
    connection with ``close``, else waiting for more) and every later one with OK."""

    async def handler(srv, reader, writer):
        while await srv.read_request(reader) is not None:
            if len(srv.requests) > 1:
                writer.write(OK)
                continue
            writer.write(bad)
            await writer.drain()
            if close:
                return

    return handler


async def then_ok(srv, s) -> None:
    """The next request on session ``s`` succeeds, on a second connection."""
    async with s.get(srv.url("/next")) as r:
        assert (r.status, await r.read()) == (200, b"ok")
    assert (srv.connections, len(srv.requests)) == (2, 2)


HEAD_ERRORS = {
    "bad-version": b"HTTX/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
    "no-status-line": b"garbage\r\n\r\n",
    "bad-status-code": b"HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n",
    "space-before-colon": response("200 OK", b"", "X-Bad : v"),
    "length-and-chunked": response("200 OK", b"", "Content-Length: 5", CHUNKED,
                                   length=False) + chunked(b"hello"),
    "two-lengths": response("200 OK", b"hello", "Content-Length: 5", "Content-Length: 6",
                            length=False),
    "bad-length": response("200 OK", b"hello", "Content-Length: abc", length=False),
}


@pytest.mark.parametrize("case", list(HEAD_ERRORS))
def test_malformed_head_raises_client_response_error(http, loop, case):
    async def main():
        async with raw_server(first_bad(HEAD_ERRORS[case])) as srv:
            async with http.ClientSession() as s:
                with pytest.raises(http.ClientResponseError) as err:
                    async with s.get(srv.url()) as r:
                        await r.read()
                assert err.value.status == 400
                assert str(err.value.request_info.real_url) == srv.url()
                await then_ok(srv, s)

    run(loop, main())


@pytest.mark.parametrize("size", [b"-5", b"ffffffffffffffffffff", b"zz"])
def test_bad_chunk_size(http, loop, size):
    """A negative, overflowing or non-hex chunk size fails (aiohttp raises
    ClientResponseError when it comes with the head, aioxide ClientPayloadError)."""
    wire = response("200 OK", b"", CHUNKED, length=False) + size + b"\r\nhello\r\n0\r\n\r\n"

    async def main():
        async with raw_server(first_bad(wire)) as srv:
            async with http.ClientSession() as s:
                with pytest.raises(http.ClientError):
                    async with s.get(srv.url()) as r:
                        await r.read()
                await then_ok(srv, s)

    run(loop, main())


@pytest.mark.parametrize("limit, wire", [
    ("max_field_size", response("200 OK", b"", "X-Long: " + "a" * 200)),
    ("max_field_size", response("200 OK", b"", "X-" + "a" * 200 + ": v")),
    ("max_line_size", b"HTTP/1.1 200 " + b"O" * 200 + b"\r\nContent-Length: 0\r\n\r\n"),
], ids=["field-value", "field-name", "status-line"])
def test_line_over_limit(http, loop, limit, wire):
    """A line over the session's limit fails; under the default limits it is fine."""

    async def main():
        async with raw_server(canned(wire)) as srv:
            async with http.ClientSession() as s:
                async with s.get(srv.url()) as r:
                    assert r.status == 200
        async with raw_server(first_bad(wire)) as srv:
            async with http.ClientSession(**{limit: 100}) as s:
                with pytest.raises(http.ClientResponseError) as err:
                    await s.get(srv.url())
                assert err.value.status == 400
                await then_ok(srv, s)

    run(loop, main())


@pytest.mark.parametrize("case", ["short-length", "cut-chunk", "no-last-chunk"])
def test_body_cut_short_raises_payload_error(http, loop, case):
    head = response("200 OK", b"", *(
        ["Content-Length: 10"] if case == "short-length" else [CHUNKED]), length=False)
    rest = {"short-length": b"01234", "cut-chunk": b"5\r\nhel",
            "no-last-chunk": b"5\r\nhello\r\n"}[case]

    async def main():
        async with raw_server(first_bad(head + rest, close=True)) as srv:
            async with http.ClientSession() as s:
                async with s.get(srv.url()) as r:
                    assert r.status == 200
                    with pytest.raises(http.ClientPayloadError):
                        await r.read()
                await then_ok(srv, s)

    run(loop, main())


@pytest.mark.parametrize("url", ["http://", "not a url", "http://[::1/", "http://h:99999/",
                                 "http:///path"])
def test_invalid_url(http, loop, url):
    async def main():
        async with raw_server(canned(OK)) as srv:
            async with http.ClientSession() as s:
                with pytest.raises(http.InvalidURL) as err:
                    await s.get(url)
                assert isinstance(err.value, ValueError)
                assert isinstance(err.value, http.ClientError)
                async with s.get(srv.url()) as r:
                    assert r.status == 200
        assert srv.connections == 1

    run(loop, main())


def test_non_http_url(http, loop):
    async def main():
        async with http.ClientSession() as s:
            with pytest.raises(http.NonHttpUrlClientError):
                await s.get("ftp://127.0.0.1/file")

    run(loop, main())


def test_refused_connection(http, loop):
    """Connecting to a port nobody listens on (bound here, so no one else can take it)."""
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    port = holder.getsockname()[1]

    async def main():
        async with raw_server(canned(OK)) as srv:
            async with http.ClientSession() as s:
                with pytest.raises(http.ClientConnectorError) as err:
                    await s.get(f"http://127.0.0.1:{port}/")
                async with s.get(srv.url()) as r:
                    assert r.status == 200
        return err.value

    try:
        exc = run(loop, main())
    finally:
        holder.close()
    assert isinstance(exc, http.ClientOSError)
    assert isinstance(exc.os_error, ConnectionRefusedError)
    assert (exc.host, exc.port) == ("127.0.0.1", port)
    assert str(port) in str(exc)


def brotli_stored(data: bytes) -> bytes:
    """A brotli stream (RFC 7932) of uncompressed metablocks, so no encoder is needed:
    WBITS 0 at the very start; per block ISLAST 0, MNIBBLES 00, MLEN-1 (16 bits),
    ISUNCOMPRESSED 1, padding, the bytes; then ISLAST 1 and ISLASTEMPTY 1."""
    out = b""
    for i in range(0, len(data), 65536):
        chunk = data[i:i + 65536]
        shift = 1 if i == 0 else 0
        header = ((len(chunk) - 1) << (3 + shift)) | (1 << (19 + shift))
        out += header.to_bytes(3, "little") + chunk
    return out + b"\x03"


def zstd_raw(data: bytes) -> bytes:
    """A zstd frame (RFC 8878) of raw blocks: magic, a header with a 128 KiB window and no
    content size, then blocks of at most 128 KiB, the last one flagged."""
    out = b"\x28\xb5\x2f\xfd\x00\x38"
    chunks = [data[i:i + 131072] for i in range(0, len(data), 131072)] or [b""]
    for n, chunk in enumerate(chunks):
        last = n == len(chunks) - 1
        out += (int(last) | (len(chunk) << 3)).to_bytes(3, "little") + chunk
    return out


def _decodes(http, coding: str) -> bool:
    if http.__name__ != "aiohttp":
        return True
    import aiohttp.compression_utils as cu

    return {"br": cu.HAS_BROTLI, "zstd": getattr(cu, "HAS_ZSTD", False)}.get(coding, True)


DATA = b"compress me, " * 500
CODINGS = {
    "br": ("br", brotli_stored(DATA)),
    "zstd": ("zstd", zstd_raw(DATA)),
    "gzip": ("gzip", gzip.compress(DATA)),
    "deflate": ("deflate", zlib.compress(DATA)),
    "raw-deflate": ("deflate", (lambda c: c.compress(DATA) + c.flush())(
        zlib.compressobj(wbits=-zlib.MAX_WBITS))),
}


@pytest.mark.parametrize("framing", ["length", "chunked"])
@pytest.mark.parametrize("case", list(CODINGS))
def test_content_encoding_decoded(http, loop, case, framing):
    coding, packed = CODINGS[case]
    if not _decodes(http, coding):
        pytest.skip(f"this aiohttp has no {coding} decoder installed")
    if framing == "length":
        wire = response("200 OK", packed, f"Content-Encoding: {coding}")
    else:
        wire = response("200 OK", b"", f"Content-Encoding: {coding}", CHUNKED,
                        length=False) + chunked(packed[:9], packed[9:])

    async def main():
        async with raw_server(canned(wire)) as srv:
            async with http.ClientSession() as s:
                async with s.get(srv.url()) as r:
                    assert r.headers["Content-Encoding"] == coding
                    assert await r.read() == DATA
            async with http.ClientSession(auto_decompress=False) as s:
                async with s.get(srv.url()) as r:
                    assert await r.read() == packed
                async with s.get(srv.url(), auto_decompress=True) as r:
                    assert await r.read() == DATA

    run(loop, main())


@pytest.mark.parametrize("coding", ["gzip", "br", "zstd"])
def test_bad_compressed_body(http, loop, coding):
    if not _decodes(http, coding):
        pytest.skip(f"this aiohttp has no {coding} decoder installed")
    wire = response("200 OK", b"this is not compressed", f"Content-Encoding: {coding}")

    async def main():
        async with raw_server(first_bad(wire)) as srv:
            async with http.ClientSession() as s:
                with pytest.raises(http.ClientPayloadError):
                    async with s.get(srv.url()) as r:
                        await r.read()
                await then_ok(srv, s)

    run(loop, main())


def test_decompression_bomb(http, loop):
    if http.__name__ == "aiohttp":
        pytest.skip("max_decompress_size is aioxide.http's own session argument")
    bomb = gzip.compress(bytes(1 << 20))
    wire = response("200 OK", bomb, "Content-Encoding: gzip")

    async def main():
        async with raw_server(first_bad(wire)) as srv:
            async with http.ClientSession(max_decompress_size=1000) as s:
                with pytest.raises(http.ClientPayloadError):
                    async with s.get(srv.url()) as r:
                        await r.read()
                await then_ok(srv, s)

    run(loop, main())


HEAD_ONLY = response("200 OK", b"", "Content-Length: 10", length=False)


@pytest.mark.parametrize("sent", [b"", HEAD_ONLY, HEAD_ONLY + b"abc"],
                         ids=["nothing", "head", "part-of-body"])
def test_sock_read_timeout(http, loop, sent):
    """The server stops sending (before the head, after it, or mid-body): sock_read
    raises SocketTimeoutError, which is an asyncio.TimeoutError."""

    async def main():
        async with raw_server(first_bad(sent)) as srv:
            async with http.ClientSession(timeout=http.ClientTimeout(sock_read=0.2)) as s:
                with pytest.raises(http.SocketTimeoutError) as err:
                    async with s.get(srv.url()) as r:
                        assert r.status == 200
                        await r.read()
                assert isinstance(err.value, http.ServerTimeoutError)
                assert isinstance(err.value, asyncio.TimeoutError)
                await then_ok(srv, s)

    run(loop, main())


def test_total_timeout_on_slow_body(http, loop):
    async def main():
        async with raw_server(first_bad(HEAD_ONLY + b"abc")) as srv:
            async with http.ClientSession() as s:
                with pytest.raises(asyncio.TimeoutError):
                    async with s.get(srv.url(), timeout=http.ClientTimeout(total=0.3)) as r:
                        assert r.status == 200
                        await r.read()
                await then_ok(srv, s)

    run(loop, main())


def test_total_timeout_with_a_full_buffer(http, loop):
    """A body that keeps coming faster than it is read: reads served from the buffer end
    at the total deadline too."""

    async def endless(srv, reader, writer):
        await srv.read_request(reader)
        writer.write(response("200 OK", b"", "Transfer-Encoding: chunked", length=False))
        while True:
            writer.write(chunked(b"1" * 1000)[:-5])  # no terminating chunk
            await writer.drain()
            await asyncio.sleep(0.01)

    async def main():
        async with raw_server(endless) as srv:
            async with http.ClientSession() as s:
                started = loop.time()
                with pytest.raises(asyncio.TimeoutError):
                    async with s.get(srv.url(), timeout=http.ClientTimeout(total=0.3)) as r:
                        async for _ in r.content.iter_chunked(1):
                            await asyncio.sleep(0.01)
                return loop.time() - started

    assert run(loop, main()) < 2


def test_release_during_a_read(http, loop):
    """``release()`` while a read waits (from another task): that read raises
    ClientConnectionError, and so does ``read()`` after a release, body read or not."""

    async def trickle(srv, reader, writer):
        await srv.read_request(reader)
        writer.write(response("200 OK", b"", "Transfer-Encoding: chunked", length=False))
        writer.write(chunked(b"line\n")[:-5])
        await writer.drain()
        await reader.read()

    async def main():
        async with raw_server(trickle) as srv, http.ClientSession() as s:
            r = await s.get(srv.url())
            assert await r.content.readline() == b"line\n"
            loop.call_later(0.1, r.release)
            with pytest.raises(http.ClientConnectionError):
                await r.content.readline()
        async with raw_server(canned(response("200 OK", b"data"))) as srv:
            async with http.ClientSession() as s:
                async with s.get(srv.url()) as r:
                    assert await r.read() == b"data"
                    assert await r.read() == b"data"  # not released yet
                with pytest.raises(http.ClientConnectionError):
                    await r.read()

    run(loop, main())


def test_header_count_limit(http, loop):
    """Over 128 header fields is refused (400) unless the session or the request allows
    more; a request's own limits hold on a reused connection too."""
    many = response("200 OK", b"ok", *(f"X-{i}: v" for i in range(130)))

    async def main():
        async with raw_server(canned(many)) as srv:
            async with http.ClientSession() as s:
                with pytest.raises(http.ClientResponseError) as err:
                    await s.get(srv.url())
                assert err.value.status == 400
                async with s.get(srv.url(), max_headers=140) as r:
                    assert (r.headers["X-129"], await r.read()) == ("v", b"ok")
                async with s.get(srv.url(), max_headers=140) as r:  # reused
                    await r.read()
                with pytest.raises(http.ClientResponseError):
                    await s.get(srv.url())  # the session's limit again
            async with http.ClientSession(max_headers=140) as s:
                async with s.get(srv.url()) as r:
                    assert r.headers["X-0"] == "v"

    run(loop, main())
