"""Requests and responses: methods, query params, headers on the wire, response attributes,
read/text/json, and the session's own life cycle."""

from __future__ import annotations

import json

import pytest
from _http_servers import (
    canned,
    echo,
    head_lines,
    header_pairs,
    raw_server,
    response,
    run,
    web_server,
)
from aiohttp import web


async def _hello(request):
    return web.Response(text="héllo", headers={"X-Custom": "yes"})


def test_get_response_attributes(http, loop):
    async def main():
        async with web_server(web.get("/hello", _hello)) as srv:
            async with http.ClientSession() as s:
                async with s.get(srv.url("/hello")) as r:
                    assert r.status == 200
                    assert r.reason == "OK"
                    assert r.ok is True
                    assert r.method == "GET"
                    assert str(r.url) == srv.url("/hello")
                    assert str(r.real_url) == srv.url("/hello")
                    assert tuple(r.version) == (1, 1)
                    assert r.content_type == "text/plain"
                    assert r.charset == "utf-8"
                    assert r.content_length == len("héllo".encode())
                    assert r.headers["x-custom"] == r.headers["X-CUSTOM"] == "yes"
                    assert r.headers["Content-Type"] == "text/plain; charset=utf-8"
                    assert await r.text() == "héllo"
                    assert await r.read() == "héllo".encode()  # cached: read again
                    assert r.history == ()

    run(loop, main())


def test_default_request_head(http, loop):
    """A bare GET: Host with the port, Accept */*, Accept-Encoding, a User-Agent, and no
    body headers; header names are cased like this on the wire."""

    async def main():
        async with raw_server(echo) as srv:
            async with http.ClientSession() as s:
                async with s.get(srv.url("/a/b")) as r:
                    raw = await r.read()
        assert head_lines(raw)[0] == "GET /a/b HTTP/1.1"
        headers = dict(header_pairs(raw))
        assert sorted(headers) == ["Accept", "Accept-Encoding", "Host", "User-Agent"]
        assert headers["Host"] == f"127.0.0.1:{srv.port}"
        assert headers["Accept"] == "*/*"
        # "br" and "zstd" join the list when their decoders are importable.
        assert headers["Accept-Encoding"].startswith("gzip, deflate")
        assert headers["User-Agent"]

    run(loop, main())


# What a request with no body carries: GET/HEAD/OPTIONS nothing, the others a zero length,
# and POST/PUT/PATCH also aiohttp's default content type.
BODYLESS = {
    "GET": {},
    "HEAD": {},
    "OPTIONS": {},
    "DELETE": {"Content-Length": "0"},
    "PUT": {"Content-Length": "0", "Content-Type": "application/octet-stream"},
    "POST": {"Content-Length": "0", "Content-Type": "application/octet-stream"},
    "PATCH": {"Content-Length": "0", "Content-Type": "application/octet-stream"},
}


@pytest.mark.parametrize("method", list(BODYLESS))
def test_methods_without_body(http, loop, method):
    async def main():
        async with raw_server(echo) as srv:
            async with http.ClientSession() as s:
                call = getattr(s, method.lower())
                async with call(srv.url("/m")) as r:
                    assert r.method == method
                    body = await r.read()
                # session.request takes the method in any case
                async with s.request(method.lower(), srv.url("/m")) as r:
                    assert r.method == method
        raw = srv.requests[0]
        assert srv.requests[1] == raw
        assert body == (b"" if method == "HEAD" else raw)  # HEAD: no body is read
        assert head_lines(raw)[0] == f"{method} /m HTTP/1.1"
        extra = {k: v for k, v in header_pairs(raw)
                 if k not in ("Host", "Accept", "Accept-Encoding", "User-Agent")}
        assert extra == BODYLESS[method]

    run(loop, main())


@pytest.mark.parametrize(
    "url_query, params, expected",
    [
        ("", {"a": "1", "b": "x y"}, "a=1&b=x+y"),
        ("", [("k", "1"), ("k", "2")], "k=1&k=2"),
        ("", {"q": "a&b=c/d?", "n": 5}, "q=a%26b%3Dc/d?&n=5"),
        ("", {"e": "é"}, "e=%C3%A9"),
        ("?x=1", {"y": "2"}, "x=1&y=2"),
        ("?x=1&x=2", None, "x=1&x=2"),
        ("?s=a b", None, "s=a+b"),
    ],
)
def test_query_params(http, loop, url_query, params, expected):
    async def main():
        async with raw_server(echo) as srv:
            async with http.ClientSession() as s:
                async with s.get(srv.url("/p" + url_query), params=params) as r:
                    raw = await r.read()
        assert head_lines(raw)[0] == f"GET /p?{expected} HTTP/1.1"

    run(loop, main())


def test_request_headers_keep_case_and_replace_defaults(http, loop):
    async def main():
        async with raw_server(echo) as srv:
            async with http.ClientSession() as s:
                headers = {"x-CUSTOM": "v", "user-agent": "mine/1", "Accept": "text/plain"}
                async with s.get(srv.url(), headers=headers) as r:
                    raw = await r.read()
                async with s.get(srv.url(), headers=[("X-A", "1"), ("X-A", "2")]) as r:
                    raw2 = await r.read()
        pairs = header_pairs(raw)
        assert ("x-CUSTOM", "v") in pairs
        assert ("user-agent", "mine/1") in pairs
        assert ("Accept", "text/plain") in pairs
        names = [k.lower() for k, _ in pairs]
        assert names.count("user-agent") == names.count("accept") == 1
        assert [p for p in header_pairs(raw2) if p[0] == "X-A"] == [("X-A", "1"), ("X-A", "2")]

    run(loop, main())


def test_response_headers_case_insensitive_multi_and_raw(http, loop):
    wire = response("201 Created", b"x", "X-A: 1", "x-a: 2", "X-Odd-CASE: v")

    async def main():
        async with raw_server(canned(wire)) as srv:
            async with http.ClientSession() as s:
                async with s.get(srv.url()) as r:
                    assert (r.status, r.reason) == (201, "Created")
                    assert r.headers.getall("X-A") == ["1", "2"]
                    assert r.headers["x-odd-case"] == "v"
                    assert r.raw_headers == (
                        (b"X-A", b"1"), (b"x-a", b"2"), (b"X-Odd-CASE", b"v"),
                        (b"Content-Length", b"1"),
                    )
                    assert r.content_type == "application/octet-stream"  # none was sent
                    assert r.charset is None
                    await r.read()

    run(loop, main())


# (status line and headers, body) -> (reason, text(), json())
TEXT_CASES = {
    "latin-1": ("200 OK", "Content-Type: text/plain; charset=latin-1", "é".encode("latin-1")),
    "no-charset": ("200 OK", "Content-Type: text/plain", "é".encode()),
    "no-type": ("200 OK", None, b"plain"),
    "teapot": ("418 I'm a teapot", None, b""),
    "no-reason": ("599", None, b""),
}


@pytest.mark.parametrize("case", list(TEXT_CASES))
def test_reason_and_text_decoding(http, loop, case):
    """text() uses the charset parameter, else UTF-8 (no sniffing); the reason phrase is
    the status line's text, empty when there is none."""
    status, ctype, body = TEXT_CASES[case]
    wire = response(status, body, *([ctype] if ctype else []))

    async def main():
        async with raw_server(canned(wire)) as srv:
            async with http.ClientSession() as s:
                async with s.get(srv.url()) as r:
                    assert r.status == int(status[:3])
                    assert r.reason == status[4:]
                    assert r.ok is (r.status < 400)
                    text = await r.text()
        assert text == (body.decode("latin-1") if case == "latin-1" else body.decode())

    run(loop, main())


def test_text_errors_and_explicit_encoding(http, loop):
    wire = response("200 OK", b"\xff\xfeok", "Content-Type: text/plain")

    async def main():
        async with raw_server(canned(wire)) as srv:
            async with http.ClientSession() as s:
                async with s.get(srv.url()) as r:
                    with pytest.raises(UnicodeDecodeError):
                        await r.text()
                    assert await r.text(errors="replace") == "\ufffd\ufffdok"
                    assert await r.text(encoding="latin-1") == "ÿþok"

    run(loop, main())


JSON_CASES = {
    "json": ("application/json", b'{"a": [1, "\xc3\xa9"]}', {"a": [1, "é"]}),
    "suffix": ("application/vnd.api+json", b"[1]", [1]),
    "empty": ("application/json", b"", None),
    "wrong-type": ("text/html", b"{}", "ContentTypeError"),
    "no-type": (None, b"{}", "ContentTypeError"),
}


@pytest.mark.parametrize("case", list(JSON_CASES))
def test_json(http, loop, case):
    ctype, body, expected = JSON_CASES[case]
    wire = response("200 OK", body, *([f"Content-Type: {ctype}"] if ctype else []))

    async def main():
        async with raw_server(canned(wire)) as srv:
            async with http.ClientSession() as s:
                async with s.get(srv.url()) as r:
                    if expected == "ContentTypeError":
                        with pytest.raises(http.ContentTypeError) as err:
                            await r.json()
                        assert isinstance(err.value, http.ClientResponseError)
                        assert err.value.status == 200
                        # content_type=None skips the check
                        assert await r.json(content_type=None) == json.loads(body)
                    else:
                        assert await r.json() == expected

    run(loop, main())


def test_json_invalid_body_raises_value_error(http, loop):
    wire = response("200 OK", b"{bad", "Content-Type: application/json")

    async def main():
        async with raw_server(canned(wire)) as srv:
            async with http.ClientSession() as s:
                async with s.get(srv.url()) as r:
                    with pytest.raises(json.JSONDecodeError):
                        await r.json()

    run(loop, main())


def test_head_and_204_have_no_body(http, loop):
    async def main():
        async with web_server(web.get("/hello", _hello)) as srv:
            async with http.ClientSession() as s:
                async with s.head(srv.url("/hello")) as r:
                    assert r.status == 200
                    assert r.content_length == len("héllo".encode())
                    assert await r.read() == b""
                # the connection is still in step: a GET on it works
                async with s.get(srv.url("/hello")) as r:
                    assert await r.text() == "héllo"
        assert srv.conns == [0, 0]

    run(loop, main())


def test_response_without_context_manager(http, loop):
    async def main():
        async with web_server(web.get("/hello", _hello)) as srv:
            async with http.ClientSession() as s:
                r = await s.get(srv.url("/hello"))
                assert r.status == 200
                assert await r.read() == "héllo".encode()
                r.release()
                assert r.closed

    run(loop, main())


def test_session_close(http, loop):
    async def main():
        s = http.ClientSession()
        assert s.closed is False
        await s.close()
        assert s.closed is True
        await s.close()  # idempotent
        with pytest.raises(RuntimeError):
            await s.get("http://127.0.0.1:1/")

    run(loop, main())
