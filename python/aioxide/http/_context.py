"""What ``session.get(...)`` returns, and ``aioxide.http.request(...)``'s one-shot
session."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._response import ClientResponse
    from ._session import ClientSession


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


class OneShot:
    """``aioxide.http.request(...)``: a session that lives for one response."""

    __slots__ = ("_args", "_session", "_resp")

    def __init__(self, method: str, url, kwargs: dict) -> None:
        self._args = (method, url, kwargs)
        self._session: ClientSession | None = None
        self._resp: ClientResponse | None = None

    async def __aenter__(self) -> ClientResponse:
        method, url, kwargs = self._args
        session_args = {k: kwargs.pop(k) for k in ("connector", "cookies", "version",
                                                    "loop") if k in kwargs}
        session_args.pop("version", None)
        from ._session import ClientSession  # the session module imports this one

        self._session = ClientSession(**session_args)
        try:
            self._resp = await self._session._request(method, url, **kwargs)
        except BaseException:
            await self._session.close()
            raise
        return self._resp

    async def __aexit__(self, exc_type, exc, tb) -> None:
        self._resp.release()
        await self._session.close()
