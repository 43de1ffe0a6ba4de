"""Name resolution for ``TCPConnector(resolver=...)``, with aiohttp's resolver API: an
object whose ``resolve(host, port, family)`` returns a list of dicts with ``hostname``,
``host``, ``port``, ``family``, ``proto`` and ``flags``."""

from __future__ import annotations

import abc
import asyncio
import socket


class AbstractResolver(abc.ABC):
    @abc.abstractmethod
    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[dict]:
        """The addresses of ``host``."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Releases what the resolver holds."""


class ThreadedResolver(AbstractResolver):
    """The loop's ``getaddrinfo`` (a thread of the default executor)."""

    def __init__(self, loop=None) -> None:
        self._loop = loop

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[dict]:
        loop = self._loop or asyncio.get_running_loop()
        infos = await loop.getaddrinfo(host, port, family=family, type=socket.SOCK_STREAM,
                                       flags=socket.AI_ADDRCONFIG)
        return [{"hostname": host, "host": addr[0], "port": addr[1], "family": fam,
                 "proto": proto, "flags": socket.AI_NUMERICHOST | socket.AI_NUMERICSERV}
                for fam, _, proto, _, addr in infos]

    async def close(self) -> None:
        pass  # the executor is the loop's


DefaultResolver = ThreadedResolver


def as_addrinfo(results: list[dict]) -> list[tuple]:
    """A resolver's answer in ``getaddrinfo``'s shape, which the connector walks."""
    return [(r["family"], socket.SOCK_STREAM, r["proto"], "", (r["host"], r["port"]))
            for r in results]
