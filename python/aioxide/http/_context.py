"""What ``session.get(...)`` returns."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._response import ClientResponse


class RequestContextManager:
    """What ``session.get(...)`` returns: await it for the response, or use it with
    ``async with``, which releases the response on exit."""

    __slots__ = ("_coro", "_resp")

    def __init__(self, coro) -> None:
        self._coro = coro
        self._resp: ClientResponse | None = None

    def send(self, arg):
        return self._coro.send(arg)

    def throw(self, *args):
        return self._coro.throw(*args)

    def close(self):
        return self._coro.close()

    def __await__(self):
        return self._coro.__await__()

    def __iter__(self):
        return self.__await__()

    async def __aenter__(self) -> ClientResponse:
        self._resp = await self._coro
        self._resp._in_context = True
        return self._resp

    async def __aexit__(self, exc_type, exc, tb) -> None:
        self._resp.release()
