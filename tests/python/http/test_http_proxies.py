"""Proxies: plain requests in absolute form through an HTTP proxy, https targets through
a CONNECT tunnel (also inside TLS to an HTTPS proxy), proxy credentials (``proxy_auth``,
the proxy URL's userinfo, the session's defaults), the environment with ``trust_env``,
and SOCKS5 (aioxide.http only). The proxies are the ones in _proxy_servers.py; HTTPS
origins and proxies use certificates from a throwaway CA (trustme)."""

from __future__ import annotations

import socket
import ssl

import pytest
import trustme
from _http_servers import get_text, hello, run, web_server
from _proxy_servers import basic, http_proxy, socks5_proxy
from aiohttp import web
from yarl import URL

# aiohttp 3.14 deprecates ``proxy_auth=`` in favour of a Proxy-Authorization header.
pytestmark = pytest.mark.filterwarnings("ignore:The 'proxy_auth' parameter is deprecated")

USER = ("user", "pass")




@pytest.fixture(scope="module")
def ca():
    return trustme.CA()


def server_context(ca) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(ctx)
    return ctx


def trusting(ca) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ca.configure_trust(ctx)
    return ctx


def origin(ca, target: str):
    """An aiohttp.web origin for ``target`` ("http" or "https") and the request's kwargs."""
    if target == "http":
        return web_server(web.get("/{tail:.*}", hello)), {}
    ctx = server_context(ca)
    return web_server(web.get("/{tail:.*}", hello), ssl_context=ctx), {"ssl": trusting(ca)}


def socks_only(http) -> None:
    if http.__name__ == "aiohttp":
        pytest.skip("aiohttp has no SOCKS")


@pytest.fixture
def closed_port():
    """A port bound (so no one else takes it) but not listening."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        yield holder.getsockname()[1]


# HTTP proxies ----------------------------------------------------------------------


def test_http_target_in_absolute_form(http, loop):
    """The proxy gets the whole URL in the request line; its connection is reused."""

    async def main():
        async with web_server(web.get("/{tail:.*}", hello)) as srv, http_proxy() as proxy:
            async with http.ClientSession() as s:
                assert await get_text(s, srv.url("/a?b=1"), proxy=proxy.url()) \
                    == "hello GET /a?b=1"
                assert await get_text(s, srv.url("/c"), proxy=proxy.url()) == "hello GET /c"
        assert proxy.lines == [f"GET {srv.url('/a?b=1')} HTTP/1.1",
                               f"GET {srv.url('/c')} HTTP/1.1"]
        assert proxy.auth == [None, None]
        assert proxy.connections == 1
        assert srv.conns == [0, 0]

    run(loop, main())


def test_https_target_through_connect(http, loop, ca):
    """One CONNECT to the origin's host:port, then TLS to the origin inside the tunnel,
    which is kept alive for the next request."""

    async def main():
        server, kwargs = origin(ca, "https")
        async with server as srv, http_proxy() as proxy:
            async with http.ClientSession() as s:
                assert await get_text(s, srv.url("/a"), proxy=proxy.url(), **kwargs) \
                    == "hello GET /a"
                assert await get_text(s, srv.url("/b"), proxy=proxy.url(), **kwargs) \
                    == "hello GET /b"
        authority = URL(srv.url()).raw_authority
        assert proxy.connects == [authority]
        assert proxy.lines == [f"CONNECT {authority} HTTP/1.1"]
        assert proxy.connections == 1
        assert srv.conns == [0, 0]

    run(loop, main())


# aiohttp sends ``proxy_headers`` with a CONNECT only, not with plain proxied requests.
CREDENTIALS = [(w, t) for w in ("proxy_auth", "url", "proxy_headers", "session")
               for t in ("http", "https") if (w, t) != ("proxy_headers", "http")]


@pytest.mark.parametrize("where, target", CREDENTIALS)
def test_proxy_credentials(http, loop, ca, where, target):
    """``proxy_auth=``, the proxy URL's userinfo, ``proxy_headers=`` and the session's
    ``proxy_auth`` become the Proxy-Authorization the proxy sees (on each plain request,
    or on the CONNECT)."""

    async def main():
        server, kwargs = origin(ca, target)
        async with server as srv, http_proxy(credentials=USER) as proxy:
            session_kwargs = {}
            if where == "proxy_auth":
                kwargs.update(proxy=proxy.url(), proxy_auth=http.BasicAuth(*USER))
            elif where == "url":
                kwargs.update(proxy=proxy.url("user:pass@"))
            elif where == "proxy_headers":
                kwargs.update(proxy=proxy.url(),
                              proxy_headers={"Proxy-Authorization": basic(*USER)})
            else:
                session_kwargs = {"proxy": proxy.url(), "proxy_auth": http.BasicAuth(*USER)}
            async with http.ClientSession(**session_kwargs) as s:
                assert await get_text(s, srv.url("/a"), **kwargs) == "hello GET /a"
                assert await get_text(s, srv.url("/b"), **kwargs) == "hello GET /b"
        assert proxy.auth == [basic(*USER)] * (2 if target == "http" else 1)

    run(loop, main())


@pytest.mark.parametrize("target", ["http", "https"])
def test_proxy_refuses_credentials(http, loop, ca, target):
    """A 407 is the response of a plain request; for a CONNECT it is a
    ClientHttpProxyError."""

    async def main():
        server, kwargs = origin(ca, target)
        async with server as srv, http_proxy(credentials=USER) as proxy:
            async with http.ClientSession() as s:
                bad = http.BasicAuth("user", "wrong")
                if target == "http":
                    async with s.get(srv.url(), proxy=proxy.url(), proxy_auth=bad) as r:
                        assert r.status == 407
                        assert r.headers["Proxy-Authenticate"] == 'Basic realm="proxy"'
                    return None
                with pytest.raises(http.ClientHttpProxyError) as err:
                    await s.get(srv.url(), proxy=proxy.url(), proxy_auth=bad, **kwargs)
        assert proxy.auth == [basic("user", "wrong")]
        assert srv.conns == []
        return err.value

    exc = run(loop, main())
    if target == "https":
        assert isinstance(exc, http.ClientResponseError)
        assert exc.status == 407


@pytest.mark.parametrize("target", ["http", "https"])
def test_https_proxy(http, loop, ca, target):
    """TLS to the proxy, checked with the request's ``ssl`` context as aiohttp does; for
    an https target, TLS to the origin inside it."""

    async def main():
        server, _ = origin(ca, target)
        async with server as srv, http_proxy(ssl_context=server_context(ca)) as proxy:
            assert proxy.url().startswith("https://")
            ctx = trusting(ca)
            async with http.ClientSession() as s:
                for path in ("/a", "/b"):
                    assert await get_text(s, srv.url(path), proxy=proxy.url(), ssl=ctx) \
                        == f"hello GET {path}"
        if target == "http":
            assert proxy.lines == [f"GET {srv.url(p)} HTTP/1.1" for p in ("/a", "/b")]
        else:
            assert proxy.connects == [URL(srv.url()).raw_authority]
        assert proxy.connections == 1

    run(loop, main())


@pytest.mark.parametrize("scheme", ["http", "socks5"])
def test_unreachable_proxy(http, loop, closed_port, scheme):
    if scheme == "socks5":
        socks_only(http)

    async def main():
        async with http.ClientSession() as s:
            with pytest.raises(http.ClientProxyConnectionError) as err:
                await s.get("http://127.0.0.1:1/", proxy=f"{scheme}://127.0.0.1:{closed_port}")
        return err.value

    exc = run(loop, main())
    assert isinstance(exc, http.ClientConnectorError)
    assert isinstance(exc.os_error, ConnectionRefusedError)


def test_unsupported_proxy_scheme(http, loop, closed_port):
    """aioxide.http refuses a scheme it cannot speak; aiohttp does not look at the scheme
    and talks HTTP to whatever is there (here: nothing)."""

    async def main():
        async with http.ClientSession() as s:
            expected = http.ClientProxyConnectionError if http.__name__ == "aiohttp" \
                else ValueError
            with pytest.raises(expected):
                await s.get("http://127.0.0.1:1/", proxy=f"ftp://127.0.0.1:{closed_port}")

    run(loop, main())


# The environment -----------------------------------------------------------------


@pytest.fixture
def clean_env(monkeypatch):
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    return monkeypatch


@pytest.mark.parametrize("bypass", [False, True], ids=["proxied", "no_proxy"])
def test_trust_env(http, loop, clean_env, bypass):
    """HTTP_PROXY (its userinfo as the credentials) is used with ``trust_env=True`` only,
    and not for a host in NO_PROXY."""

    async def main():
        async with web_server(web.get("/{tail:.*}", hello)) as srv, \
                http_proxy(credentials=USER) as proxy:
            clean_env.setenv("HTTP_PROXY", proxy.url("user:pass@"))
            if bypass:
                clean_env.setenv("NO_PROXY", "127.0.0.1")
            async with http.ClientSession() as s:
                assert await get_text(s, srv.url("/plain")) == "hello GET /plain"
            async with http.ClientSession(trust_env=True) as s:
                assert await get_text(s, srv.url("/env")) == "hello GET /env"
        expected = [] if bypass else [f"GET {srv.url('/env')} HTTP/1.1"]
        assert proxy.lines == expected
        assert proxy.auth == [basic(*USER)] * len(expected)
        assert srv.conns == [0, 1]

    run(loop, main())


# SOCKS5 ----------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["http", "https"])
def test_socks5_to_an_ip(http, loop, ca, target):
    """``socks5://`` to an IP literal sends an IPv4 address; the connection is reused."""
    socks_only(http)

    async def main():
        server, kwargs = origin(ca, target)
        async with server as srv, socks5_proxy() as proxy:
            async with http.ClientSession() as s:
                for path in ("/a", "/b"):
                    assert await get_text(s, srv.url(path), proxy=proxy.url(), **kwargs) \
                        == f"hello GET {path}"
        assert proxy.socks == [(1, "127.0.0.1")]
        assert srv.conns == [0, 0]

    run(loop, main())


@pytest.mark.parametrize("scheme, sent", [("socks5", (1, "127.0.0.1")),
                                          ("socks5h", (3, "localhost"))])
def test_socks5_name_resolution(http, loop, scheme, sent):
    """``socks5://`` resolves the name here; ``socks5h://`` sends it to the proxy."""
    socks_only(http)

    async def main():
        async with web_server(web.get("/{tail:.*}", hello)) as srv, \
                socks5_proxy() as proxy:
            url = f"http://localhost:{URL(srv.url()).port}/x"
            async with http.ClientSession() as s:
                assert await get_text(s, url, proxy=f"{scheme}://127.0.0.1:{proxy.port}") \
                    == "hello GET /x"
        # socks5 may first try an address the server does not listen on (::1 where
        # localhost resolves to it first): the last request is the one that worked.
        assert proxy.socks[-1] == sent
        assert all(t in (1, 4) for t, _ in proxy.socks) if scheme == "socks5" else \
            proxy.socks == [sent]

    run(loop, main())


@pytest.mark.parametrize("userinfo, sent", [("user:pass@", ["user:pass"]),
                                             ("user:nope@", ["user:nope"]), ("", [])],
                         ids=["right", "wrong", "none"])
def test_socks5_user_password(http, loop, userinfo, sent):
    """Credentials from the proxy URL; wrong or missing ones fail to connect."""
    socks_only(http)
    ok = userinfo == "user:pass@"

    async def main():
        async with web_server(web.get("/", hello)) as srv, \
                socks5_proxy(credentials=USER) as proxy:
            async with http.ClientSession() as s:
                if ok:
                    assert await get_text(s, srv.url(), proxy=proxy.url(userinfo)) \
                        == "hello GET /"
                else:
                    with pytest.raises(http.ClientProxyConnectionError):
                        await s.get(srv.url(), proxy=proxy.url(userinfo))
        assert proxy.auth == sent
        assert proxy.socks == ([(1, "127.0.0.1")] if ok else [])
        assert srv.conns == ([0] if ok else [])

    run(loop, main())
