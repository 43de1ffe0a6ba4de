"""Following redirects: which method and body the next request carries, ``history``,
``allow_redirects``, ``max_redirects``, relative and non-http locations, and what a
redirect to another origin leaves out."""

from __future__ import annotations

import pytest
from _http_servers import head_lines, header_pairs, raw_server, response, routed, run


def redirect(status: str, location: str) -> bytes:
    return response(status, b"", f"Location: {location}")


def request_line(raw: bytes) -> str:
    return head_lines(raw)[0]


def body_of(raw: bytes) -> bytes:
    return raw.split(b"\r\n\r\n", 1)[1]


STATUS = {301: "301 Moved Permanently", 302: "302 Found", 303: "303 See Other",
          307: "307 Temporary Redirect", 308: "308 Permanent Redirect"}


# (status, method) -> the method of the request that follows the redirect
FOLLOW = [
    (301, "POST", "GET"),
    (302, "POST", "GET"),
    (303, "POST", "GET"),
    (303, "PUT", "GET"),
    (301, "PUT", "PUT"),
    (302, "PATCH", "PATCH"),
    (307, "POST", "POST"),
    (307, "PUT", "PUT"),
    (308, "POST", "POST"),
]


@pytest.mark.parametrize("status, method, then", FOLLOW)
def test_method_and_body_after_redirect(http, loop, status, method, then):
    """301/302 turn a POST into a GET, 303 anything but HEAD; the GET has no body and no
    body headers. Otherwise (307/308 always) the method and body are sent again."""

    async def main():
        routes = {"/start": redirect(STATUS[status], "/end")}
        async with raw_server(routed(routes)) as srv:
            async with http.ClientSession() as s:
                async with s.request(method, srv.url("/start"), data=b"payload") as r:
                    assert r.status == 200
                    assert r.method == then
                    assert str(r.url) == srv.url("/end")
                    assert [h.status for h in r.history] == [status]
                    return srv.requests

    first, second = run(loop, main())
    assert request_line(first) == f"{method} /start HTTP/1.1"
    assert body_of(first) == b"payload"
    assert request_line(second) == f"{then} /end HTTP/1.1"
    headers = dict(header_pairs(second))
    if then == "GET":
        assert body_of(second) == b""
        assert "Content-Length" not in headers
        assert "Content-Type" not in headers
    else:
        assert body_of(second) == b"payload"
        assert headers["Content-Length"] == "7"
        assert headers["Content-Type"] == "application/octet-stream"


def test_history_in_order(http, loop):
    async def main():
        routes = {"/a": redirect("301 Moved Permanently", "/b"),
                  "/b": redirect("302 Found", "/c"),
                  "/c": redirect("307 Temporary Redirect", "/end")}
        async with raw_server(routed(routes)) as srv:
            async with http.ClientSession() as s:
                async with s.get(srv.url("/a")) as r:
                    assert r.status == 200
                    assert str(r.url) == srv.url("/end")
                    assert isinstance(r.history, tuple)
                    assert [h.status for h in r.history] == [301, 302, 307]
                    assert [str(h.url) for h in r.history] == [
                        srv.url("/a"), srv.url("/b"), srv.url("/c")]
                    assert [h.headers["Location"] for h in r.history] == ["/b", "/c", "/end"]
                    assert all(h.method == "GET" for h in r.history)
        assert [request_line(q) for q in srv.requests] == [
            f"GET {p} HTTP/1.1" for p in ("/a", "/b", "/c", "/end")]
        assert srv.connections == 1  # each redirect's connection went back to the pool

    run(loop, main())


def test_allow_redirects_false(http, loop):
    async def main():
        routes = {"/start": redirect("302 Found", "/end")}
        async with raw_server(routed(routes)) as srv:
            async with http.ClientSession() as s:
                async with s.get(srv.url("/start"), allow_redirects=False) as r:
                    assert r.status == 302
                    assert r.headers["Location"] == "/end"
                    assert r.history == ()
                    assert str(r.url) == srv.url("/start")
                    assert await r.read() == b""
                async with s.post(srv.url("/start"), data=b"x", allow_redirects=False) as r:
                    assert r.status == 302
        assert [request_line(q) for q in srv.requests] == [
            "GET /start HTTP/1.1", "POST /start HTTP/1.1"]

    run(loop, main())


@pytest.mark.parametrize("limit", [None, 3])
def test_redirect_loop_raises_too_many_redirects(http, loop, limit):
    """A redirect loop stops after ``max_redirects`` responses (10 by default); the
    session still works afterwards."""
    expected = 10 if limit is None else limit

    async def main():
        routes = {"/loop": redirect("302 Found", "/loop")}
        kwargs = {} if limit is None else {"max_redirects": limit}
        async with raw_server(routed(routes)) as srv:
            async with http.ClientSession() as s:
                with pytest.raises(http.TooManyRedirects) as err:
                    await s.get(srv.url("/loop"), **kwargs)
                assert len(srv.requests) == expected
                async with s.get(srv.url("/ok")) as r:
                    assert r.status == 200
        assert isinstance(err.value, http.ClientResponseError)
        assert len(err.value.history) == expected
        assert all(h.status == 302 for h in err.value.history)
        assert str(err.value.request_info.real_url) == srv.url("/loop")

    run(loop, main())


# Location -> the target requested next, from /a/b/c?x=1 ({port} is the server's)
RELATIVE = {
    "/abs": "/abs",
    "d": "/a/b/d",
    "../d?q=1": "/a/d?q=1",
    "./": "/a/b/",
    "?y=2": "/a/b/c?y=2",
    "//127.0.0.1:{port}/net": "/net",
    "http://127.0.0.1:{port}/full": "/full",
}


@pytest.mark.parametrize("location", list(RELATIVE))
def test_relative_location(http, loop, location):
    async def main():
        routes = {}
        async with raw_server(routed(routes)) as srv:
            routes["/a/b/c?x=1"] = redirect("302 Found", location.format(port=srv.port))
            async with http.ClientSession() as s:
                async with s.get(srv.url("/a/b/c?x=1")) as r:
                    assert r.status == 200
                    assert str(r.url) == srv.url(RELATIVE[location])
        assert request_line(srv.requests[1]) == f"GET {RELATIVE[location]} HTTP/1.1"

    run(loop, main())


@pytest.mark.parametrize("location", ["ftp://example.com/f", "javascript:alert(1)"])
def test_redirect_to_non_http_scheme(http, loop, location):
    async def main():
        routes = {"/start": redirect("302 Found", location)}
        async with raw_server(routed(routes)) as srv:
            async with http.ClientSession() as s:
                with pytest.raises(http.NonHttpUrlRedirectClientError) as err:
                    await s.get(srv.url("/start"))
                async with s.get(srv.url("/ok")) as r:
                    assert r.status == 200
        assert isinstance(err.value, http.NonHttpUrlClientError)
        assert isinstance(err.value, http.ClientError)
        assert len(srv.requests) == 2  # nothing was sent for the redirect

    run(loop, main())


@pytest.mark.filterwarnings("ignore:The 'auth' parameter is deprecated")
@pytest.mark.parametrize("how", ["auth", "header"])
@pytest.mark.parametrize("where", ["same-origin", "cross-origin"])
def test_authorization_kept_only_on_same_origin(http, loop, how, where):
    """A redirect to another origin (another port here) drops the Authorization header,
    from ``auth=`` or ``headers=``; one on the same origin keeps it."""

    async def main():
        routes = {}
        async with raw_server(routed(routes)) as one, raw_server(routed({})) as two:
            target = one.url("/end") if where == "same-origin" else two.url("/end")
            routes["/start"] = redirect("302 Found", target)
            kwargs = ({"auth": http.BasicAuth("user", "pass")} if how == "auth"
                      else {"headers": {"Authorization": "Bearer token"}})
            async with http.ClientSession() as s:
                async with s.get(one.url("/start"), **kwargs) as r:
                    assert r.status == 200
                    assert str(r.url) == target
            return one.requests + two.requests, two.port

    (first, second), port2 = run(loop, main())
    sent = "Basic dXNlcjpwYXNz" if how == "auth" else "Bearer token"
    assert dict(header_pairs(first))["Authorization"] == sent
    headers = dict(header_pairs(second))
    if where == "same-origin":
        assert headers["Authorization"] == sent
    else:
        assert "Authorization" not in headers
        assert headers["Host"] == f"127.0.0.1:{port2}"


def test_request_cookies_not_sent_to_another_origin(http, loop):
    async def main():
        routes = {}
        async with raw_server(routed(routes)) as one, raw_server(routed({})) as two:
            routes["/start"] = redirect("302 Found", two.url("/end"))
            async with http.ClientSession() as s:
                async with s.get(one.url("/start"), cookies={"c": "1"}) as r:
                    assert r.status == 200
            return one.requests[0], two.requests[0]

    first, second = run(loop, main())
    assert dict(header_pairs(first))["Cookie"] == "c=1"
    assert "Cookie" not in dict(header_pairs(second))


def test_307_with_a_one_shot_body(http, loop):
    """A body from an async generator cannot be sent twice: following a 307 fails with
    ClientPayloadError rather than sending an empty body."""

    async def gen():
        yield b"once"

    async def main():
        routes = {"/start": redirect("307 Temporary Redirect", "/end")}
        async with raw_server(routed(routes)) as srv:
            async with http.ClientSession() as s:
                with pytest.raises(http.ClientPayloadError):
                    await s.post(srv.url("/start"), data=gen())
                async with s.get(srv.url("/ok")) as r:
                    assert r.status == 200
        assert [request_line(q) for q in srv.requests] == [
            "POST /start HTTP/1.1", "GET /ok HTTP/1.1"]

    run(loop, main())


@pytest.mark.filterwarnings("ignore:The 'auth' parameter is deprecated")
def test_session_auth_with_base_url_only_for_its_origin(http, loop):
    """With ``base_url``, the session's auth goes only to that origin: not after a
    redirect elsewhere. Credentials in a redirect's Location win over ``auth=``."""

    async def main():
        routes = {}
        async with raw_server(routed(routes)) as one, raw_server(routed({})) as two:
            routes["/start"] = redirect("302 Found", two.url("/end"))
            routes["/creds"] = redirect("302 Found", f"http://who@127.0.0.1:{one.port}/end")
            async with http.ClientSession(base_url=one.url("/"),
                                          auth=http.BasicAuth("user", "pass")) as s:
                async with s.get("/start") as r:
                    assert r.status == 200
            async with http.ClientSession() as s:
                async with s.get(one.url("/creds"), auth=http.BasicAuth("a", "b")) as r:
                    assert r.status == 200
            return one.requests, two.requests

    (start, creds, end), (elsewhere,) = run(loop, main())
    assert dict(header_pairs(start))["Authorization"] == "Basic dXNlcjpwYXNz"
    assert "Authorization" not in dict(header_pairs(elsewhere))
    assert dict(header_pairs(end))["Authorization"] == "Basic d2hvOg=="  # who:
