"""Client middlewares (aiohttp 3.12's API), the digest auth middleware, and aioxide's
opt-in ``retry=`` policy."""

from __future__ import annotations

import hashlib

import pytest
from _http_servers import canned, raw_server, response, run, web_server
from aiohttp import web


async def _echo_headers(request):
    return web.json_response(dict(request.headers))


def test_middleware_changes_the_request(http, loop):
    seen = []

    async def bearer(req, handler):
        seen.append((req.method, str(req.url)))
        req.headers["Authorization"] = "Bearer t0ken"
        return await handler(req)

    async def main():
        async with web_server(web.get("/", _echo_headers)) as srv:
            async with http.ClientSession(middlewares=(bearer,)) as s:
                async with s.get(srv.url()) as r:
                    sent = await r.json()
                async with s.get(srv.url(), middlewares=()) as r:  # turned off per request
                    plain = await r.json()
        assert sent["Authorization"] == "Bearer t0ken"
        assert "Authorization" not in plain
        assert seen == [("GET", srv.url())]

    run(loop, main())


def test_middlewares_nest_in_order_and_may_resend(http, loop):
    order = []

    def tag(name):
        async def mw(req, handler):
            order.append(f"{name} in")
            resp = await handler(req)
            order.append(f"{name} out {resp.status}")
            return resp
        return mw

    async def refresh(req, handler):
        resp = await handler(req)
        if resp.status == 401:
            resp.release()
            req.headers["X-Token"] = "fresh"
            resp = await handler(req)
        return resp

    async def guarded(request):
        if request.headers.get("X-Token") != "fresh":
            return web.Response(status=401)
        return web.Response(text="in")

    async def main():
        async with web_server(web.get("/", guarded)) as srv:
            async with http.ClientSession(middlewares=(tag("a"), refresh, tag("b"))) as s:
                async with s.get(srv.url()) as r:
                    assert (r.status, await r.text()) == (200, "in")
        assert order == ["a in", "b in", "b out 401", "b in", "b out 200", "a out 200"]

    run(loop, main())


def _digest_handler(user: str, password: str, algorithm: str, seen: list):
    """A handler requiring Digest auth (qop=auth) with ``algorithm``; ``seen`` collects
    whether each request came with credentials."""
    make = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}[algorithm]
    realm, nonce = "tests@aioxide", "dcd98b7102dd2f0e8b11d0f600bfb0c093"

    def h(text: str) -> str:
        return make(text.encode()).hexdigest()

    async def handler(request):
        header = request.headers.get("Authorization", "")
        seen.append(header.startswith("Digest "))
        if header.startswith("Digest "):
            fields = dict(part.strip().split("=", 1) for part in header[7:].split(","))
            fields = {k: v.strip('"') for k, v in fields.items()}
            ha1 = h(f"{user}:{realm}:{password}")
            ha2 = h(f"{request.method}:{fields['uri']}")
            expected = h(f"{ha1}:{nonce}:{fields['nc']}:{fields['cnonce']}:auth:{ha2}")
            if fields["response"] == expected and fields["uri"] == request.path_qs:
                return web.Response(text=f"hello {fields['username']}")
        challenge = (f'Digest realm="{realm}", qop="auth", nonce="{nonce}", '
                     f'opaque="5ccc069c", algorithm={algorithm}')
        return web.Response(status=401, headers={"WWW-Authenticate": challenge})

    return handler


@pytest.mark.parametrize("algorithm", ["MD5", "SHA-256"])
def test_digest_auth(http, loop, algorithm):
    seen = []

    async def main():
        handler = _digest_handler("mufasa", "circle of life", algorithm, seen)
        async with web_server(web.get("/dir/index.html", handler)) as srv:
            digest = http.DigestAuthMiddleware("mufasa", "circle of life")
            async with http.ClientSession(middlewares=(digest,)) as s:
                for _ in range(2):
                    async with s.get(srv.url("/dir/index.html?x=1")) as r:
                        assert (r.status, await r.text()) == (200, "hello mufasa")
            wrong = http.DigestAuthMiddleware("mufasa", "wrong")
            async with http.ClientSession(middlewares=(wrong,)) as s:
                async with s.get(srv.url("/dir/index.html")) as r:
                    assert r.status == 401
        # challenged once, then answered; the second request sends credentials up front
        assert seen[:3] == [False, True, True]

    run(loop, main())


def _aioxide_only(http):
    if http.__name__ == "aiohttp":
        pytest.skip("retry= is aioxide.http's own")


def flaky(*statuses: int, retry_after: str | None = None):
    """Answers the n-th request with ``statuses[n]`` (200 after the list)."""
    extra = [f"Retry-After: {retry_after}"] if retry_after is not None else []
    return canned(*(response(f"{s} X", b"no", *extra) for s in statuses),
                  response("200 OK", b"yes"))


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_retry_on_status(http, loop, method):
    _aioxide_only(http)

    async def main():
        async with raw_server(flaky(503, 429, retry_after="0")) as srv:
            policy = http.Retry(attempts=3, backoff=0)
            async with http.ClientSession(retry=policy) as s:
                async with s.request(method, srv.url()) as r:
                    return r.status, await r.read(), len(srv.requests)

    status, body, sent = run(loop, main())
    if method == "GET":
        assert (status, body, sent) == (200, b"yes", 3)
    else:  # POST is not in the policy's methods: one try, its answer as it is
        assert (status, body, sent) == (503, b"no", 1)


def test_retry_gives_up_after_its_attempts(http, loop):
    _aioxide_only(http)

    async def main():
        async with raw_server(flaky(502, 502, 502, 502)) as srv:
            async with http.ClientSession() as s:
                async with s.get(srv.url(), retry=http.Retry(attempts=2, backoff=0)) as r:
                    assert r.status == 502
                assert len(srv.requests) == 2
                async with s.get(srv.url()) as r:  # no policy: one try
                    assert r.status == 502
                assert len(srv.requests) == 3

    run(loop, main())


def test_retry_on_connection_error(http, loop):
    _aioxide_only(http)

    async def refuse_twice(srv, reader, writer):
        await srv.read_request(reader)
        if len(srv.requests) > 2:
            writer.write(response("200 OK", b"up"))
            await writer.drain()

    async def main():
        async with raw_server(refuse_twice) as srv:
            async with http.ClientSession(retry=http.Retry(attempts=3, backoff=0)) as s:
                async with s.get(srv.url()) as r:
                    assert await r.read() == b"up"

    run(loop, main())


def test_retry_after_seconds_bounded_by_backoff_max(http):
    _aioxide_only(http)
    policy = http.Retry(backoff=1.0, backoff_max=5.0, jitter=0)

    class Resp:
        def __init__(self, value):
            self.headers = {"Retry-After": value} if value is not None else {}

    assert policy.delay(1, Resp("2")) == 2.0
    assert policy.delay(1, Resp("120")) == 5.0
    assert policy.delay(3, Resp(None)) == 4.0
    assert policy.delay(9) == 5.0
    with pytest.raises(ValueError):
        http.Retry(attempts=0)
