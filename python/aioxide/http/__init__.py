"""aioxide.http: aiohttp's client API on a native HTTP/1.1 protocol.

    async with aioxide.http.ClientSession() as session:
        async with session.get(url) as response:
            print(await response.text())

Code written for ``aiohttp``'s client runs after its import is changed. Responses are
parsed in Rust as bytes arrive; on the aioxide loop and on any other asyncio loop.
See docs/http.md for what differs from aiohttp and what is not there yet.
"""

from ._body import FormData
from ._connector import BaseConnector, Connection, TCPConnector, UnixConnector
from ._cookies import AbstractCookieJar, CookieJar, DummyCookieJar
from ._exceptions import (
    ClientConnectionError,
    ClientConnectionResetError,
    ClientConnectorCertificateError,
    ClientConnectorDNSError,
    ClientConnectorError,
    ClientConnectorSSLError,
    ClientError,
    ClientHttpProxyError,
    ClientOSError,
    ClientPayloadError,
    ClientProxyConnectionError,
    ClientResponseError,
    ClientSSLError,
    ConnectionTimeoutError,
    ContentTypeError,
    InvalidURL,
    InvalidUrlClientError,
    InvalidUrlRedirectClientError,
    NonHttpUrlClientError,
    NonHttpUrlRedirectClientError,
    ServerConnectionError,
    ServerDisconnectedError,
    ServerFingerprintMismatch,
    ServerTimeoutError,
    SocketTimeoutError,
    TooManyRedirects,
    UnixClientConnectorError,
    WSServerHandshakeError,
)
from ._helpers import BasicAuth, ClientTimeout, Fingerprint, RequestInfo
from ._middlewares import (
    ClientHandlerType,
    ClientMiddlewareType,
    ClientRequest,
    DigestAuthMiddleware,
    Retry,
)
from ._resolver import AbstractResolver, DefaultResolver, ThreadedResolver
from ._response import ClientResponse, HttpVersion, HttpVersion10, HttpVersion11
from ._session import ClientSession
from ._streams import EmptyStreamReader, StreamReader
from ._tracing import EVENTS as _EVENTS
from ._tracing import TraceConfig

__all__ = [
    "AbstractCookieJar",
    "AbstractResolver",
    "BaseConnector",
    "BasicAuth",
    "ClientConnectionError",
    "ClientConnectionResetError",
    "ClientConnectorCertificateError",
    "ClientConnectorDNSError",
    "ClientConnectorError",
    "ClientConnectorSSLError",
    "ClientError",
    "ClientHandlerType",
    "ClientHttpProxyError",
    "ClientMiddlewareType",
    "ClientOSError",
    "ClientPayloadError",
    "ClientProxyConnectionError",
    "ClientRequest",
    "ClientResponse",
    "ClientResponseError",
    "ClientSSLError",
    "ClientSession",
    "ClientTimeout",
    "Connection",
    "ConnectionTimeoutError",
    "ContentTypeError",
    "CookieJar",
    "DefaultResolver",
    "DigestAuthMiddleware",
    "DummyCookieJar",
    "EmptyStreamReader",
    "Fingerprint",
    "FormData",
    "HttpVersion",
    "HttpVersion10",
    "HttpVersion11",
    "InvalidURL",
    "InvalidUrlClientError",
    "InvalidUrlRedirectClientError",
    "NonHttpUrlClientError",
    "NonHttpUrlRedirectClientError",
    "RequestInfo",
    "Retry",
    "ServerConnectionError",
    "ServerDisconnectedError",
    "ServerFingerprintMismatch",
    "ServerTimeoutError",
    "SocketTimeoutError",
    "StreamReader",
    "TCPConnector",
    "ThreadedResolver",
    "TooManyRedirects",
    "TraceConfig",
    "UnixClientConnectorError",
    "UnixConnector",
    "WSServerHandshakeError",
    "request",
]


globals().update({cls.__name__: cls for cls in _EVENTS.values()})
__all__ += [cls.__name__ for cls in _EVENTS.values()]


def request(method: str, url, **kwargs):
    """One request on a session of its own (aiohttp's ``aiohttp.request``)."""
    from ._session import _OneShot

    return _OneShot(method, url, kwargs)
