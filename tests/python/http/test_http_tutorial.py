"""The seed program: many pages fetched at once on one session with
``asyncio.as_completed``, each read with ``response.text()``."""

from __future__ import annotations

import asyncio

import pytest
from _http_servers import run, web_server
from aiohttp import web

PAGES = 20


async def _page(request):
    n = int(request.match_info["n"])
    return web.Response(text=f"page {n}: " + "é" * n * 100)


async def fetch(session, url: str) -> str:
    async with session.get(url) as response:
        return await response.text()


async def fetch_all(session, urls: list[str]) -> list[str]:
    results = []
    for next_done in asyncio.as_completed([fetch(session, url) for url in urls]):
        results.append(await next_done)
    return results


def expected() -> list[str]:
    return sorted(f"page {n}: " + "é" * n * 100 for n in range(PAGES))


def test_as_completed_over_one_session(http, loop):
    async def main():
        async with web_server(web.get("/page/{n}", _page)) as srv:
            urls = [srv.url(f"/page/{n}") for n in range(PAGES)]
            async with http.ClientSession() as session:
                results = await fetch_all(session, urls)
        assert len(srv.conns) == PAGES
        return results

    assert sorted(run(loop, main())) == expected()


@pytest.mark.parametrize("limit", [1, 4])
def test_as_completed_with_a_connection_limit(http, loop, limit):
    """With ``limit`` connections the pages still all arrive, over at most that many
    connections, and a second round opens no new ones."""

    async def main():
        async with web_server(web.get("/page/{n}", _page)) as srv:
            urls = [srv.url(f"/page/{n}") for n in range(PAGES)]
            connector = http.TCPConnector(limit=limit)
            async with http.ClientSession(connector=connector) as session:
                first = await fetch_all(session, urls)
                opened = srv.connections
                second = await fetch_all(session, urls)
        assert 1 <= opened <= limit
        assert srv.connections == opened
        return first, second

    first, second = run(loop, main())
    assert sorted(first) == sorted(second) == expected()
