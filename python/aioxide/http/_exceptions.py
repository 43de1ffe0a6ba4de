"""aiohttp's client exception hierarchy, with its names, bases and messages, so code that
catches aiohttp's exceptions catches these after its import is changed."""

from __future__ import annotations

import asyncio
import ssl


class ClientError(Exception):
    """Base class of every client error."""


class ClientResponseError(ClientError):
    """A response that cannot be used: an error status, a malformed head, ..."""

    def __init__(self, request_info, history, *, code=None, status=None, message="",
                 headers=None):
        self.request_info = request_info
        self.status = status if status is not None else (code or 0)
        self.message = message
        self.headers = headers
        self.history = history
        self.args = (request_info, history)

    def __str__(self) -> str:
        url = self.request_info.real_url if self.request_info is not None else ""
        return f"{self.status}, message={self.message!r}, url={str(url)!r}"

    def __repr__(self) -> str:
        args = f"{self.request_info!r}, {self.history!r}"
        if self.status != 0:
            args += f", status={self.status!r}"
        if self.message != "":
            args += f", message={self.message!r}"
        if self.headers is not None:
            args += f", headers={self.headers!r}"
        return f"{type(self).__name__}({args})"

    @property
    def code(self) -> int:
        return self.status


class ContentTypeError(ClientResponseError):
    """``json()`` on a response whose content type is not JSON."""


class WSServerHandshakeError(ClientResponseError):
    """A websocket handshake the server refused (websockets are not written yet)."""


class ClientHttpProxyError(ClientResponseError):
    """A proxy that answered a CONNECT with an error status."""


class TooManyRedirects(ClientResponseError):
    """More redirects than ``max_redirects``."""


class ClientConnectionError(ClientError):
    """Base class of errors on the connection itself."""


class _Keyed:
    """An error about one connection key: the host and port it was for."""

    @property
    def host(self) -> str:
        return self._conn_key.host

    @property
    def port(self) -> int | None:
        return self._conn_key.port


class ClientConnectionResetError(ClientConnectionError, ConnectionResetError):
    """Writing to a connection that is closing."""


class ClientOSError(ClientConnectionError, OSError):
    """An OS error on the connection."""


class ClientConnectorError(_Keyed, ClientOSError):
    """Connecting to the host failed."""

    def __init__(self, connection_key, os_error: OSError):
        self._conn_key = connection_key
        self._os_error = os_error
        super().__init__(os_error.errno, os_error.strerror)
        self.args = (connection_key, os_error)

    @property
    def os_error(self) -> OSError:
        return self._os_error

    @property
    def ssl(self):
        return self._conn_key.ssl

    def __str__(self) -> str:
        ssl_shown = "default" if self.ssl is True else self.ssl
        return (f"Cannot connect to host {self.host}:{self.port} ssl:{ssl_shown} "
                f"[{self.strerror}]")

    __reduce__ = BaseException.__reduce__


class ClientConnectorDNSError(ClientConnectorError):
    """The host name did not resolve."""


class ClientProxyConnectionError(ClientConnectorError):
    """Connecting to the proxy failed."""


class UnixClientConnectorError(ClientConnectorError):
    """Connecting to a Unix socket failed."""

    def __init__(self, path: str, connection_key, os_error: OSError):
        self._path = path
        super().__init__(connection_key, os_error)

    @property
    def path(self) -> str:
        return self._path

    def __str__(self) -> str:
        ssl_shown = "default" if self.ssl is True else self.ssl
        return f"Cannot connect to unix socket {self.path} ssl:{ssl_shown} [{self.strerror}]"


class ServerConnectionError(ClientConnectionError):
    """The server side of the connection failed."""


class ServerDisconnectedError(ServerConnectionError):
    """The server closed the connection before the response was complete."""

    def __init__(self, message=None):
        if message is None:
            message = "Server disconnected"
        self.args = (message,)
        self.message = message


class ServerTimeoutError(ServerConnectionError, asyncio.TimeoutError):
    """A socket-level timeout (``sock_connect``, ``sock_read``)."""


class ConnectionTimeoutError(ServerTimeoutError):
    """``connect`` or ``sock_connect`` ran out."""


class SocketTimeoutError(ServerTimeoutError):
    """``sock_read`` ran out."""


class ServerFingerprintMismatch(ServerConnectionError):
    """The server's certificate does not have the pinned fingerprint."""

    def __init__(self, expected: bytes, got: bytes, host: str, port: int):
        self.expected = expected
        self.got = got
        self.host = host
        self.port = port
        self.args = (expected, got, host, port)

    def __repr__(self) -> str:
        return (f"<{type(self).__name__} expected={self.expected!r} got={self.got!r} "
                f"host={self.host!r} port={self.port!r}>")


class ClientPayloadError(ClientError):
    """A response body that is cut short or malformed."""


class InvalidURL(ClientError, ValueError):
    """A URL that cannot be requested."""

    def __init__(self, url, description: str | None = None):
        self._url = url
        self._description = description
        super().__init__(url, description) if description else super().__init__(url)

    @property
    def url(self):
        return self._url

    @property
    def description(self) -> str | None:
        return self._description

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self}>"

    def __str__(self) -> str:
        if self._description:
            return f"{self._url} - {self._description}"
        return str(self._url)


class InvalidUrlClientError(InvalidURL):
    """An invalid URL given to a request."""


class InvalidUrlRedirectClientError(InvalidUrlClientError):
    """A redirect to an invalid URL."""


class NonHttpUrlClientError(ClientError):
    """A URL whose scheme is not http or https."""


class NonHttpUrlRedirectClientError(NonHttpUrlClientError):
    """A redirect to a URL whose scheme is not http or https."""


class ClientSSLError(ClientConnectorError):
    """A TLS error while connecting."""


class ClientConnectorSSLError(ClientSSLError, ssl.SSLError):
    """A TLS handshake that failed."""


class ClientConnectorCertificateError(ClientSSLError, ssl.CertificateError):
    """A server certificate that did not verify."""

    def __init__(self, connection_key, certificate_error: Exception):
        self._conn_key = connection_key
        self._certificate_error = certificate_error
        self.args = (connection_key, certificate_error)

    @property
    def certificate_error(self) -> Exception:
        return self._certificate_error

    @property
    def ssl(self) -> bool:
        return self._conn_key.is_ssl

    def __str__(self) -> str:
        return (f"Cannot connect to host {self.host}:{self.port} ssl:{self.ssl} "
                f"[{type(self.certificate_error).__name__}: {self.certificate_error.args}]")
