"""Other transports: ``UnixConnector`` to a Unix socket, and HTTPS against certificates
from a throwaway CA (trustme): verification, ``ssl=False``, server_hostname and
``Fingerprint`` pinning."""

from __future__ import annotations

import hashlib
import ssl

import pytest
import trustme
from _http_servers import get_text, hello, run, web_server
from aiohttp import web
from yarl import URL

# Unix sockets --------------------------------------------------------------------


def test_unix_connector(http, loop, unix_path):
    """The URL's host does not matter; a connection is kept alive and reused."""

    async def main():
        async with web_server(web.get("/{tail:.*}", hello), unix_path=unix_path) as srv:
            conn = http.UnixConnector(path=unix_path)
            async with http.ClientSession(connector=conn) as s:
                assert await get_text(s, "http://localhost/a?b=1") == "hello GET /a?b=1"
                assert await get_text(s, "http://localhost/b") == "hello GET /b"
                assert await get_text(s, "http://any.host/c") == "hello GET /c"
        assert srv.conns[:2] == [0, 0]

    run(loop, main())


def test_unix_connector_missing_socket(http, loop, unix_path):
    async def main():
        async with http.ClientSession(connector=http.UnixConnector(path=unix_path)) as s:
            with pytest.raises(http.ClientConnectorError) as err:
                await s.get("http://localhost/")
        return err.value

    exc = run(loop, main())
    assert type(exc).__name__ == "UnixClientConnectorError"
    assert exc.path == unix_path
    assert isinstance(exc.os_error, FileNotFoundError)


# TLS -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ca():
    return trustme.CA()


def server_context(ca, *names: str) -> ssl.SSLContext:
    return issue(ca, *names)[0]


def issue(ca, *names: str) -> tuple[ssl.SSLContext, bytes]:
    """A server context with a certificate for ``names``, and that certificate's SHA-256."""
    cert = ca.issue_cert(*names)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(ctx)
    der = ssl.PEM_cert_to_DER_cert(cert.cert_chain_pems[0].bytes().decode())
    return ctx, hashlib.sha256(der).digest()


def trusting(ca) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ca.configure_trust(ctx)
    return ctx


@pytest.mark.parametrize("where", ["request", "connector"])
def test_https_with_trusted_context(http, loop, ca, where):
    async def main():
        routes = [web.get("/{tail:.*}", hello)]
        async with web_server(*routes, ssl_context=server_context(ca, "127.0.0.1")) as srv:
            assert srv.url().startswith("https://")
            if where == "request":
                session, kwargs = http.ClientSession(), {"ssl": trusting(ca)}
            else:
                session = http.ClientSession(connector=http.TCPConnector(ssl=trusting(ca)))
                kwargs = {}
            async with session as s:
                assert await get_text(s, srv.url("/x"), **kwargs) == "hello GET /x"
                assert await get_text(s, srv.url("/y"), **kwargs) == "hello GET /y"
        assert srv.conns == [0, 0]

    run(loop, main())


def test_untrusted_certificate_fails_verification(http, loop):
    """A certificate from a CA the client does not trust fails the default verification;
    ``ssl=False`` skips verification on the same session."""
    server_ctx = server_context(trustme.CA(), "127.0.0.1")

    async def main():
        async with web_server(web.get("/", hello), ssl_context=server_ctx) as srv:
            async with http.ClientSession() as s:
                with pytest.raises(http.ClientConnectorCertificateError) as err:
                    await s.get(srv.url())
                assert await get_text(s, srv.url(), ssl=False) == "hello GET /"
        return err.value, URL(srv.url()).port

    exc, port = run(loop, main())
    assert isinstance(exc, http.ClientSSLError)
    assert isinstance(exc, http.ClientConnectorError)
    assert isinstance(exc.certificate_error, ssl.SSLCertVerificationError)
    assert (exc.host, exc.port) == ("127.0.0.1", port)


def test_hostname_mismatch_and_server_hostname(http, loop, ca):
    """A certificate for another name fails; ``server_hostname=`` names the host the
    certificate is checked against."""

    async def main():
        routes = [web.get("/", hello)]
        async with web_server(*routes, ssl_context=server_context(ca, "example.test")) as srv:
            async with http.ClientSession() as s:
                with pytest.raises(http.ClientSSLError):
                    await s.get(srv.url(), ssl=trusting(ca))
                text = await get_text(s, srv.url(), ssl=trusting(ca),
                                      server_hostname="example.test")
                assert text == "hello GET /"

    run(loop, main())


@pytest.mark.parametrize("right", [True, False], ids=["right", "wrong"])
def test_fingerprint(http, loop, ca, right):
    server_ctx, digest = issue(ca, "127.0.0.1")
    pinned = digest if right else hashlib.sha256(b"another certificate").digest()

    async def main():
        async with web_server(web.get("/", hello), ssl_context=server_ctx) as srv:
            async with http.ClientSession() as s:
                if right:
                    assert await get_text(s, srv.url(), ssl=http.Fingerprint(pinned)) \
                        == "hello GET /"
                    return None
                with pytest.raises(http.ServerFingerprintMismatch) as err:
                    await s.get(srv.url(), ssl=http.Fingerprint(pinned))
                # the session still works with a trusting context
                assert await get_text(s, srv.url(), ssl=trusting(ca)) == "hello GET /"
                return err.value

    exc = run(loop, main())
    if not right:
        assert isinstance(exc, http.ServerConnectionError)
        assert (exc.expected, exc.got) == (pinned, digest)
        assert exc.host == "127.0.0.1"


def test_fingerprint_rejects_weak_digests(http, loop):
    with pytest.raises(ValueError):
        http.Fingerprint(hashlib.sha1(b"x").digest())
    with pytest.raises(ValueError):
        http.Fingerprint(b"short")
