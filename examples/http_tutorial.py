"""The beginner's aiohttp program, run on aioxide.http: only the import differs.

    python examples/http_tutorial.py

This machine may have no internet, so the URLs are pages of a local aiohttp.web server
the example starts first; the program itself is the tutorial's, line for line.
"""

from __future__ import annotations

import asyncio

from aiohttp import web
from aioxide import http as aiohttp  # the one changed line: was `import aiohttp`


async def get(session, url):
    async with session.get(url) as response:
        return await response.text()


async def fetch_all(urls: list[str]) -> None:
    async with aiohttp.ClientSession() as session:
        for coro in asyncio.as_completed([get(session, u) for u in urls]):
            print((await coro)[:144])


async def page(request: web.Request) -> web.Response:
    n = int(request.match_info["n"])
    return web.Response(text=f"page {n}: " + "lorem ipsum " * n)


async def main(count: int = 10) -> None:
    app = web.Application()
    app.router.add_get("/page/{n}", page)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        await fetch_all([f"http://{host}:{port}/page/{n}" for n in range(count)])
    finally:
        await runner.cleanup()


if __name__ == "__main__":
    import aioxide

    aioxide.run(main())
