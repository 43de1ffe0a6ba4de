"""Cookies (the session's jar, ``cookies=``, ``response.cookies``, ``DummyCookieJar``) and
Basic auth (session, request, URL userinfo), as the Cookie and Authorization headers on
the wire. The jar ignores cookies from IP-address hosts unless ``unsafe=True``, so most
tests talk to the raw server as ``localhost``."""

from __future__ import annotations

import base64

import pytest
from _http_servers import head_lines, header_pairs, raw_server, response, routed, run
from yarl import URL

# aiohttp 3.14 deprecates ``auth=`` in favour of an Authorization header; both still work.
pytestmark = pytest.mark.filterwarnings("ignore:The 'auth' parameter is deprecated")


def at(srv, path: str = "/", host: str = "localhost") -> str:
    return f"http://{host}:{srv.port}{path}"


def sent_cookies(raw: bytes) -> dict[str, str] | None:
    """The Cookie header of a raw request as a dict, None when there is none."""
    values = [v for k, v in header_pairs(raw) if k.lower() == "cookie"]
    if not values:
        return None
    assert len(values) == 1
    return dict(p.split("=", 1) for p in values[0].split("; "))


def authorization(raw: bytes) -> str | None:
    return dict(header_pairs(raw)).get("Authorization")


def basic(login: str, password: str, encoding: str = "latin-1") -> str:
    return "Basic " + base64.b64encode(f"{login}:{password}".encode(encoding)).decode()


SET = response("200 OK", b"", "Set-Cookie: a=1", "Set-Cookie: b=2; Path=/; HttpOnly")


async def set_then_next(http, wire: bytes):
    """GET /set (answered with ``wire``), then GET /next on the same session: the first
    response's ``cookies`` and the Cookie header the second request sent."""
    async with raw_server(routed({"/set": wire})) as srv:
        async with http.ClientSession() as s:
            async with s.get(at(srv, "/set")) as r:
                cookies = r.cookies
            async with s.get(at(srv, "/next")) as r:
                assert len(r.cookies) == 0
    return cookies, sent_cookies(srv.requests[1])


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
@pytest.mark.parametrize("unsafe", [False, True])
def test_set_cookie_stored_and_sent_back(http, loop, host, unsafe):
    """Cookies set by a named host come back; from an IP host only with ``unsafe``."""
    kept = host == "localhost" or unsafe

    async def main():
        async with raw_server(routed({"/set": SET})) as srv:
            jar = http.CookieJar(unsafe=unsafe)
            async with http.ClientSession(cookie_jar=jar) as s:
                async with s.get(at(srv, "/set", host)) as r:
                    assert r.status == 200
                assert len(jar) == (2 if kept else 0)
                async with s.get(at(srv, "/next", host)) as r:
                    await r.read()
        return srv.requests

    first, second = run(loop, main())
    assert sent_cookies(first) is None
    assert sent_cookies(second) == ({"a": "1", "b": "2"} if kept else None)


def test_cookie_path_domain_and_deletion(http, loop):
    routes = {
        "/set": response("200 OK", b"", "Set-Cookie: a=1", "Set-Cookie: p=1; Path=/sub",
                         "Set-Cookie: other=1; Domain=example.com"),
        "/del": response("200 OK", b"", "Set-Cookie: a=gone; Max-Age=0"),
    }

    async def main():
        async with raw_server(routed(routes)) as srv:
            async with http.ClientSession() as s:
                for path in ("/set", "/x", "/sub/x", "/del", "/sub/y", "/x"):
                    async with s.get(at(srv, path)) as r:
                        assert r.status == 200
        return [sent_cookies(q) for q in srv.requests[1:]]

    assert run(loop, main()) == [{"a": "1"}, {"a": "1", "p": "1"}, {"a": "1"}, {"p": "1"}, None]


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
def test_session_cookies(http, loop, host):
    """``ClientSession(cookies=)`` belong to no host: they go to every request, and a
    request's own ``cookies=`` add to them (winning a name clash) for that request only."""

    async def main():
        async with raw_server(routed({})) as srv:
            async with http.ClientSession(cookies={"s": "1", "t": "2"}) as s:
                for kwargs in ({}, {"cookies": {"r": "3", "t": "x"}}, {}):
                    async with s.get(at(srv, "/", host), **kwargs) as r:
                        assert r.status == 200
        return [sent_cookies(q) for q in srv.requests]

    assert run(loop, main()) == [
        {"s": "1", "t": "2"}, {"s": "1", "t": "x", "r": "3"}, {"s": "1", "t": "2"}]


def test_request_cookies_only(http, loop):
    async def main():
        async with raw_server(routed({})) as srv:
            async with http.ClientSession() as s:
                async with s.get(at(srv), cookies={"r": "1"}) as r:
                    await r.read()
                async with s.get(at(srv)) as r:
                    await r.read()
                assert len(s.cookie_jar) == 0
        return [sent_cookies(q) for q in srv.requests]

    assert run(loop, main()) == [{"r": "1"}, None]


def test_dummy_cookie_jar_keeps_nothing(http, loop):
    async def main():
        async with raw_server(routed({"/set": SET})) as srv:
            jar = http.DummyCookieJar()
            async with http.ClientSession(cookie_jar=jar, cookies={"s": "1"}) as s:
                async with s.get(at(srv, "/set")) as r:
                    assert r.cookies["a"].value == "1"  # the response still has them
                async with s.get(at(srv, "/next")) as r:
                    await r.read()
                assert len(jar) == 0
                assert list(jar) == []
        return [sent_cookies(q) for q in srv.requests]

    assert run(loop, main()) == [None, None]


def test_response_cookies(http, loop):
    wire = response("200 OK", b"", "Set-Cookie: a=1; Path=/p; Max-Age=60",
                    'Set-Cookie: b="x y"; HttpOnly', "Set-Cookie: c=3; Secure")

    cookies, _ = run(loop, set_then_next(http, wire))
    assert sorted(cookies) == ["a", "b", "c"]
    assert cookies["a"].value == "1"
    assert cookies["a"]["path"] == "/p"
    assert cookies["a"]["max-age"] == "60"
    assert cookies["b"].value == "x y"
    assert cookies["b"]["httponly"] is True
    assert cookies["c"]["secure"] is True


def test_set_cookie_names_http_cookies_refuses(http, loop):
    """Attribute words as the first pair's name and braces in names are cookies; a name
    with a comma, a line without ``=`` and a pair over 4096 bytes are not."""
    wire = response("200 OK", b"", "Set-Cookie: path=unquoted", 'Set-Cookie: secure="q"; Path=/',
                    "Set-Cookie: ISA{1-2}={3-4}; HttpOnly", "Set-Cookie: bad,name=1",
                    "Set-Cookie: novalue", "Set-Cookie: big=" + "x" * 5000)

    cookies, sent = run(loop, set_then_next(http, wire))
    assert sorted(cookies) == ["ISA{1-2}", "path", "secure"]
    assert (cookies["path"].value, cookies["secure"].value) == ("unquoted", "q")
    assert cookies["ISA{1-2}"]["httponly"] is True
    assert sent == {"path": "unquoted", "secure": '"q"', "ISA{1-2}": '"{3-4}"'}  # quoted


def test_cookie_storage_and_header_are_bounded(http, loop):
    """A server setting hundreds of large cookies cannot grow the jar without bound or
    make the Cookie header longer than a server's 8 KiB line limit."""
    many = response("200 OK", b"", *(f"Set-Cookie: c{i}={'v' * 100}" for i in range(40)))

    async def main():
        async with raw_server(routed({"/set": many})) as srv:
            jar = http.CookieJar()
            async with http.ClientSession(cookie_jar=jar) as s:
                for _ in range(6):  # 240 cookies, each set again on the way
                    async with s.get(at(srv, "/set")) as r:
                        await r.read()
                for i in range(200):
                    jar.update_cookies({f"n{i}": "1"}, URL(at(srv)))
                async with s.get(at(srv, "/next")) as r:
                    await r.read()
        return len(jar), {c.key for c in jar}, srv.requests[-1]

    size, names, last = run(loop, main())
    assert 50 <= size <= 200
    assert "n199" in names and "c0" not in names  # the least recently set go first
    header = dict(header_pairs(last))["Cookie"]
    assert len("Cookie: " + header) <= 8190


def test_secure_cookie_not_sent_over_http(http, loop):
    wire = response("200 OK", b"", "Set-Cookie: a=1", "Set-Cookie: s=1; Secure")

    async def main():
        async with raw_server(routed({"/set": wire})) as srv:
            async with http.ClientSession() as s:
                for path in ("/set", "/next"):
                    async with s.get(at(srv, path)) as r:
                        await r.read()
        return sent_cookies(srv.requests[1])

    assert run(loop, main()) == {"a": "1"}


# Basic auth ----------------------------------------------------------------------


def test_session_and_request_auth(http, loop):
    """The session's auth goes with every request; a request's own replaces it."""

    async def main():
        async with raw_server(routed({})) as srv:
            async with http.ClientSession(auth=http.BasicAuth("user", "pass")) as s:
                for kwargs in ({}, {"auth": http.BasicAuth("other", "pw")}, {}):
                    async with s.get(at(srv), **kwargs) as r:
                        assert r.status == 200
        return [authorization(q) for q in srv.requests]

    assert run(loop, main()) == [basic("user", "pass"), basic("other", "pw"),
                                 basic("user", "pass")]


def test_request_auth_without_session_auth(http, loop):
    async def main():
        async with raw_server(routed({})) as srv:
            async with http.ClientSession() as s:
                auth = http.BasicAuth("usér", "pâss:word")
                async with s.get(at(srv), auth=auth) as r:
                    await r.read()
                async with s.get(at(srv)) as r:
                    await r.read()
        return [authorization(q) for q in srv.requests]

    assert run(loop, main()) == [basic("usér", "pâss:word"), None]


@pytest.mark.parametrize(
    "userinfo, login, password",
    [("user:pass", "user", "pass"), ("us%40er:p%3Ass", "us@er", "p:ss"), ("solo", "solo", "")],
)
def test_auth_from_url_userinfo(http, loop, userinfo, login, password):
    """``http://user:pass@host/`` sends Basic auth; the userinfo goes nowhere else."""

    async def main():
        async with raw_server(routed({})) as srv:
            async with http.ClientSession() as s:
                async with s.get(f"http://{userinfo}@localhost:{srv.port}/p?q=1") as r:
                    assert r.status == 200
                    assert r.url.user is None
        return srv.requests[0], srv.port

    raw, port = run(loop, main())
    assert authorization(raw) == basic(login, password)
    assert head_lines(raw)[0] == "GET /p?q=1 HTTP/1.1"
    assert dict(header_pairs(raw))["Host"] == f"localhost:{port}"


@pytest.mark.parametrize("conflict", ["url", "header"])
def test_auth_conflicts_raise_value_error(http, loop, conflict):
    """``auth=`` together with URL credentials or an Authorization header is refused
    before anything is sent."""

    async def main():
        async with raw_server(routed({})) as srv:
            async with http.ClientSession() as s:
                auth = http.BasicAuth("user", "pass")
                if conflict == "url":
                    url, kwargs = f"http://u:p@localhost:{srv.port}/", {}
                else:
                    url, kwargs = at(srv), {"headers": {"Authorization": "Bearer t"}}
                with pytest.raises(ValueError):
                    await s.get(url, auth=auth, **kwargs)
                async with s.get(at(srv)) as r:
                    assert r.status == 200
        assert len(srv.requests) == 1

    run(loop, main())


def test_attribute_after_a_space_and_request_cookies_uncut(http, loop):
    """``Path=/ Max-Age=0`` (no ``;`` between) still expires the cookie, as http.cookies
    reads it; a request's own cookies are not cut to the jar's limits."""
    wire = response("200 OK", b"", "Set-Cookie: keep=1", "Set-Cookie: gone=1; Path=/ Max-Age=0")
    own = {f"c{i}": "v" for i in range(200)}

    async def main():
        async with raw_server(routed({"/set": wire})) as srv:
            jar = http.CookieJar()
            async with http.ClientSession(cookie_jar=jar) as s:
                async with s.get(at(srv, "/set")) as r:
                    await r.read()
                names = {c.key for c in jar}
                async with s.get(at(srv, "/next"), cookies=own) as r:
                    await r.read()
        return names, sent_cookies(srv.requests[1])

    names, sent = run(loop, main())
    assert names == {"keep"}
    assert sent == {"keep": "1", **own}


def test_same_name_for_two_domains_is_two_cookies(http, loop):
    """The jar keeps each Set-Cookie on its own: one name for two domains is two
    cookies; ``response.cookies`` keeps the last of each name."""
    wire = response("200 OK", b"", "Set-Cookie: sid=1; Domain=localhost",
                    "Set-Cookie: sid=2; Path=/p")

    async def main():
        async with raw_server(routed({"/set": wire})) as srv:
            jar = http.CookieJar()
            async with http.ClientSession(cookie_jar=jar) as s:
                async with s.get(at(srv, "/set")) as r:
                    last = r.cookies["sid"].value
        return last, sorted((c.value, c["path"]) for c in jar)

    last, stored = run(loop, main())
    assert last == "2"
    assert stored == [("1", "/"), ("2", "/p")]


def test_failing_jar_releases_the_connection(http, loop):
    """A jar that raises on a response's cookies: the error reaches the caller and the
    connection is not kept from the pool (of one connection here)."""

    class Broken(http.CookieJar):
        def update_cookies_from_headers(self, headers, response_url):
            raise RuntimeError("jar broke")

    async def main():
        async with raw_server(routed({"/set": SET})) as srv:
            connector = http.TCPConnector(limit=1)
            async with http.ClientSession(cookie_jar=Broken(), connector=connector) as s:
                with pytest.raises(RuntimeError, match="jar broke"):
                    await s.get(at(srv, "/set"))
                async with s.get(at(srv, "/next"), timeout=http.ClientTimeout(total=5)) as r:
                    return r.status

    assert run(loop, main()) == 200
