"""Session and connector options beyond the basics: a custom resolver, ``trust_env``'s
.netrc credentials, ``json_serialize_bytes``, the read buffer limits, ``abort_ssl``."""

from __future__ import annotations

import json
import socket

import pytest
from _http_servers import echo, header_pairs, raw_server, run

# aiohttp 3.14 deprecates ``auth=``; .netrc credentials go the same way.
pytestmark = pytest.mark.filterwarnings("ignore:The 'auth' parameter is deprecated")


class MapResolver:
    """Every name resolves to the test server; records what it was asked."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.asked: list[tuple[str, int]] = []

    async def resolve(self, host, port=0, family=socket.AF_INET):
        self.asked.append((host, port))
        return [{"hostname": host, "host": "127.0.0.1", "port": self.port,
                 "family": socket.AF_INET, "proto": 0, "flags": socket.AI_NUMERICHOST}]

    async def close(self):
        pass


@pytest.mark.parametrize("use_dns_cache", [True, False])
def test_custom_resolver(http, loop, use_dns_cache):
    """``TCPConnector(resolver=)`` decides where a name goes; the Host header keeps the
    name. With the DNS cache off, the resolver is asked for each connection."""

    async def main():
        async with raw_server(echo) as srv:
            resolver = MapResolver(srv.port)
            connector = http.TCPConnector(resolver=resolver, use_dns_cache=use_dns_cache,
                                          force_close=True)
            async with http.ClientSession(connector=connector) as s:
                for _ in range(2):
                    async with s.get("http://example.test/a") as r:
                        raw = await r.read()
            return resolver.asked, dict(header_pairs(raw))["Host"]

    asked, host = run(loop, main())
    assert host == "example.test"
    assert asked == [("example.test", 80)] * (1 if use_dns_cache else 2)


def test_threaded_resolver(http, loop):
    async def main():
        resolver = http.ThreadedResolver()
        return await resolver.resolve("127.0.0.1", 8080, family=socket.AF_INET)

    found = run(loop, main())
    assert [(r["host"], r["port"], r["family"]) for r in found] == [
        ("127.0.0.1", 8080, socket.AF_INET)]


@pytest.mark.parametrize("trust_env", [True, False])
def test_netrc_credentials_with_trust_env(http, loop, tmp_path, monkeypatch, trust_env):
    """With ``trust_env``, a .netrc entry for the host gives Basic auth. A request's own
    Authorization header wins (aiohttp raises ValueError for the two together)."""
    netrc = tmp_path / "netrc"
    netrc.write_text("machine localhost login alice password s3cret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    refuses = http.__name__ == "aiohttp" and trust_env

    async def main():
        async with raw_server(echo) as srv:
            url = f"http://localhost:{srv.port}/"
            async with http.ClientSession(trust_env=trust_env) as s:
                async with s.get(url) as r:
                    first = dict(header_pairs(await r.read()))
                if refuses:
                    with pytest.raises(ValueError, match="Cannot combine AUTHORIZATION"):
                        await s.get(url, headers={"Authorization": "Bearer t"})
                    return first.get("Authorization"), None
                async with s.get(url, headers={"Authorization": "Bearer t"}) as r:
                    second = dict(header_pairs(await r.read()))
        return first.get("Authorization"), second["Authorization"]

    netrc_auth, explicit = run(loop, main())
    assert netrc_auth == ("Basic YWxpY2U6czNjcmV0" if trust_env else None)
    assert explicit == (None if refuses else "Bearer t")


def test_json_serialize_bytes(http, loop):
    def dumps(obj) -> bytes:
        return json.dumps(obj, separators=(",", ":")).encode() + b" "

    async def main():
        async with raw_server(echo) as srv:
            async with http.ClientSession(json_serialize_bytes=dumps) as s:
                async with s.post(srv.url(), json={"a": [1, 2]}) as r:
                    return await r.read()

    head, body = run(loop, main()).split(b"\r\n\r\n", 1)
    assert body == b'{"a":[1,2]} '
    assert dict(header_pairs(head))["Content-Type"] == "application/json"


@pytest.mark.parametrize("bufsize", [None, 1024])
def test_read_buffer_limits(http, loop, bufsize):
    async def main():
        async with raw_server(echo) as srv:
            async with http.ClientSession() as s:
                async with s.get(srv.url(), read_bufsize=bufsize) as r:
                    limits = r.content.get_read_buffer_limits()
                    await r.read()
        return limits

    size = bufsize or 2**18  # aiohttp 3.14's default
    assert run(loop, main()) == (size, 2 * size)
