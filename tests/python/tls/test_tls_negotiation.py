"""TLS negotiation: ALPN, SNI callbacks, client certificates, encrypted private keys.

Each test runs on aioxide and on the stdlib loop and expects what stdlib asyncio 3.11
does.
"""

from __future__ import annotations

import ssl

import pytest
from _tls_helpers import (
    CERTFILE_PROTECTED,
    KEY_PASSWORD,
    ONLYCERT,
    ONLYKEY_PROTECTED,
    SIGNED_CERTFILE2,
    SIGNING_CA,
    certfile,
    client_context,
    close_both,
    echo_roundtrip,
    record_exception_handler,
    run,
    server_context,
    subject_cn,
    tls_connect,
    tls_server,
)

HOST = "127.0.0.1"


# -- ALPN, SNI, client certificates, encrypted keys -------------------------------------


@pytest.mark.parametrize(
    ("server_protos", "client_protos", "selected"),
    [
        (["h2", "http/1.1"], ["http/1.1"], "http/1.1"),
        (["h2", "http/1.1"], ["h2", "http/1.1"], "h2"),
        (["h2"], ["spdy/3"], None),
        (None, ["h2"], None),
    ],
    ids=["one-common", "server-preference", "no-overlap", "server-none"],
)
def test_alpn(loop, server_ctx, client_ctx, server_protos, client_protos, selected):
    if server_protos is not None:
        server_ctx.set_alpn_protocols(server_protos)
    client_ctx.set_alpn_protocols(client_protos)

    async def main():
        async with tls_server(loop, server_ctx) as (_server, addr, accepting):
            transport, client = await tls_connect(loop, addr, client_ctx)
            server_proto = await accepting.next()
            client_sel = transport.get_extra_info("ssl_object").selected_alpn_protocol()
            server_sel = (server_proto.transport.get_extra_info("ssl_object")
                          .selected_alpn_protocol())
            await close_both(transport, client, server_proto)
            return client_sel, server_sel

    assert run(loop, main()) == (selected, selected)


def test_sni_callback_sees_server_hostname(loop, server_ctx, client_ctx):
    seen = []

    def sni(sslobj, server_name, ctx):
        seen.append((type(sslobj), server_name, ctx is server_ctx))

    server_ctx.sni_callback = sni

    async def main():
        async with tls_server(loop, server_ctx) as (_server, addr, accepting):
            transport, client = await tls_connect(loop, addr, client_ctx)
            server_proto = await accepting.next()
            await close_both(transport, client, server_proto)

    run(loop, main())
    assert seen == [(ssl.SSLObject, "localhost", True)]


def test_sni_callback_without_server_name(loop, server_ctx, client_ctx):
    seen = []
    server_ctx.sni_callback = lambda _obj, name, _ctx: seen.append(name)
    client_ctx.check_hostname = False  # server_hostname="" sends no SNI

    async def main():
        async with tls_server(loop, server_ctx) as (_server, addr, accepting):
            transport, client = await tls_connect(loop, addr, client_ctx, hostname="")
            server_proto = await accepting.next()
            assert transport.get_extra_info("ssl_object").server_hostname is None
            await close_both(transport, client, server_proto)

    run(loop, main())
    assert seen == [None]


def test_sni_callback_switches_certificate(loop, server_ctx, client_ctx):
    other_ctx = server_context(SIGNED_CERTFILE2)  # "fakehostname"

    def sni(sslobj, server_name, _ctx):
        if server_name == "fakehostname":
            sslobj.context = other_ctx

    server_ctx.sni_callback = sni

    async def main():
        async with tls_server(loop, server_ctx) as (_server, addr, accepting):
            names = []
            for hostname in ("localhost", "fakehostname"):
                transport, client = await tls_connect(loop, addr, client_ctx, hostname)
                server_proto = await accepting.next()
                names.append(subject_cn(transport.get_extra_info("peercert")))
                await echo_roundtrip(transport, client, hostname.encode())
                await close_both(transport, client, server_proto)
            return names

    assert run(loop, main()) == ["localhost", "fakehostname"]


def test_sni_callback_refusing_fails_handshake(loop, server_ctx, client_ctx):
    """An SNI callback returning an alert aborts the server's handshake. asyncio closes
    the connection without flushing the alert, so the client sees the connection end
    mid-handshake; the server keeps serving and reports nothing."""

    def sni(_sslobj, server_name, _ctx):
        if server_name == "fakehostname":
            return ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME
        return None

    server_ctx.sni_callback = sni

    async def main():
        errors = record_exception_handler(loop)
        async with tls_server(loop, server_ctx) as (_server, addr, accepting):
            with pytest.raises(ConnectionResetError) as info:
                await tls_connect(loop, addr, client_ctx, "fakehostname")
            assert type(info.value) is ConnectionResetError and info.value.args == ()
            transport, client = await tls_connect(loop, addr, client_ctx)
            server_proto = await accepting.next()
            await close_both(transport, client, server_proto)
            assert len(accepting.protocols) == 2  # made for both; connected once
            assert not accepting.protocols[0].made.done()
        assert errors == []

    run(loop, main())


def test_client_certificate(loop, server_ctx, client_ctx):
    server_ctx.verify_mode = ssl.CERT_REQUIRED
    server_ctx.load_verify_locations(certfile(SIGNING_CA))
    client_ctx.load_cert_chain(certfile(SIGNED_CERTFILE2))  # "fakehostname", same CA

    async def main():
        async with tls_server(loop, server_ctx) as (_server, addr, accepting):
            transport, client = await tls_connect(loop, addr, client_ctx)
            server_proto = await accepting.next()
            server_seen = server_proto.transport.get_extra_info("peercert")
            assert subject_cn(server_seen) == "fakehostname"
            assert subject_cn(transport.get_extra_info("peercert")) == "localhost"
            await echo_roundtrip(transport, client, b"mutual")
            await close_both(transport, client, server_proto)

    run(loop, main())


@pytest.mark.parametrize(
    ("cert", "key", "password"),
    [
        (CERTFILE_PROTECTED, None, KEY_PASSWORD),
        (CERTFILE_PROTECTED, None, KEY_PASSWORD.encode()),
        (ONLYCERT, ONLYKEY_PROTECTED, lambda: KEY_PASSWORD),
    ],
    ids=["str", "bytes", "callable"],
)
def test_encrypted_private_key(loop, cert, key, password):
    server_ctx = server_context(cert, key, password)
    client_ctx = client_context(ONLYCERT)  # the self-signed certificate is its own CA

    async def main():
        async with tls_server(loop, server_ctx) as (_server, addr, accepting):
            transport, client = await tls_connect(loop, addr, client_ctx)
            server_proto = await accepting.next()
            assert subject_cn(transport.get_extra_info("peercert")) == "localhost"
            await echo_roundtrip(transport, client, b"encrypted key")
            await close_both(transport, client, server_proto)

    run(loop, main())


def test_encrypted_private_key_wrong_password(loop):
    # Not a loop matter, but it pins down what a test may rely on: the key is encrypted.
    with pytest.raises(ssl.SSLError):
        server_context(CERTFILE_PROTECTED, None, "wrong")


