"""Outgoing stream connections: ``create_connection`` (with Happy Eyeballs),
``create_unix_connection``, ``connect_accepted_socket``, and the transport factory
they share with servers.

fd ownership: a socket this module creates is closed on every failure and cancellation
path before the exception leaves; a socket the caller passed (``sock=``) is adopted by
the transport only once the transport exists, and closed by it from then on.
"""

from __future__ import annotations

import os
import socket
from asyncio import tasks
from asyncio.log import logger
from asyncio.streams import StreamReaderProtocol

from . import _resolve, _versions
from ._socket_fast import NONBLOCK
from ._transports import tls as _tls
from ._transports.sockets import SocketTransport


def _check_ssl_socket(sock) -> None:
    ssl_socket = getattr(__import__("ssl"), "SSLSocket", None)
    if ssl_socket is not None and isinstance(sock, ssl_socket):
        raise TypeError("Socket cannot be of type SSLSocket")


def _check_ssl_timeouts(ssl, handshake, shutdown) -> None:
    if handshake is not None and not ssl:
        raise ValueError("ssl_handshake_timeout is only meaningful with ssl")
    if shutdown is not None and not ssl:
        raise ValueError("ssl_shutdown_timeout is only meaningful with ssl")
    # The TLS protocol refuses these too, but only once the socket is connected (asyncio
    # then leaves that socket open); refusing them first leaks nothing.
    for name, value in (("handshake", handshake), ("shutdown", shutdown)):
        if value is not None and value <= 0:
            raise ValueError(f"ssl_{name}_timeout should be a positive number, got {value}")


def _close_result(task) -> None:
    """Done callback of a losing connection attempt: close a socket it still produced."""
    if not task.cancelled() and task.exception() is None:
        task.result().close()


def _combined_error(exceptions):
    if len(exceptions) == 1:
        return exceptions[0]
    model = str(exceptions[0])
    if all(str(exc) == model for exc in exceptions):
        return exceptions[0]
    return OSError("Multiple exceptions: {}".format(", ".join(str(exc) for exc in exceptions)))



def _buffered_by_stream_reader(protocol) -> bytes:
    """The bytes a server's stream reader received but nobody read yet, taken from it: on
    ``start_tls`` they are the client's first TLS bytes (asyncio takes them from 3.13.x,
    gh-142352; before, they were lost and the handshake hung, so every version does it
    here)."""
    reader = getattr(protocol, "_stream_reader", None)
    if not isinstance(protocol, StreamReaderProtocol) or reader is None or not reader._buffer:
        return b""
    data = bytes(reader._buffer)
    reader._buffer.clear()
    return data


class ConnectionMixin:
    # -- transports -------------------------------------------------------------------

    def _make_socket_transport(self, sock, protocol, waiter=None, *, extra=None, server=None):
        return SocketTransport(self, sock, protocol, waiter, extra, server)

    def _make_ssl_transport(self, rawsock, protocol, sslcontext, waiter=None, *,
                            server_side=False, server_hostname=None, extra=None,
                            server=None, ssl_handshake_timeout=None,
                            ssl_shutdown_timeout=None, call_connection_made=True):
        ssl_protocol = _tls.ssl_protocol(
            self, protocol, sslcontext, waiter, server_side, server_hostname,
            ssl_handshake_timeout=ssl_handshake_timeout,
            ssl_shutdown_timeout=ssl_shutdown_timeout,
            call_connection_made=call_connection_made)
        SocketTransport(self, rawsock, ssl_protocol, None, extra, server)
        return ssl_protocol._app_transport

    async def _create_connection_transport(self, sock, protocol_factory, ssl,
                                           server_hostname, server_side=False,
                                           ssl_handshake_timeout=None,
                                           ssl_shutdown_timeout=None, own_sock=False):
        try:
            if not own_sock:  # a socket _connect_sock made is non-blocking from the start
                sock.setblocking(False)
            protocol = protocol_factory()
            waiter = self.create_future()
            if ssl:
                context = None if isinstance(ssl, bool) else ssl  # None: a default context
                transport = self._make_ssl_transport(
                    sock, protocol, context, waiter, server_side=server_side,
                    server_hostname=server_hostname,
                    ssl_handshake_timeout=ssl_handshake_timeout,
                    ssl_shutdown_timeout=ssl_shutdown_timeout)
            else:
                transport = self._make_socket_transport(sock, protocol, waiter)
        except BaseException:
            if _versions.CONNECTION_CLOSES_SOCK_ON_SETUP_ERROR:
                sock.close()
            raise
        try:
            await waiter
        except BaseException:
            transport.close()
            waiter = None  # it holds the error, whose traceback holds this frame: a cycle
            raise
        return transport, protocol

    async def start_tls(self, transport, protocol, sslcontext, *, server_side=False,
                        server_hostname=None, ssl_handshake_timeout=None,
                        ssl_shutdown_timeout=None):
        """Upgrade an existing connection to TLS; returns the new (TLS) transport."""
        import ssl

        if not isinstance(sslcontext, ssl.SSLContext):
            raise TypeError(f"sslcontext is expected to be an instance of ssl.SSLContext, "
                            f"got {sslcontext!r}")
        if not getattr(transport, "_start_tls_compatible", False):
            raise TypeError(f"transport {transport!r} is not supported by start_tls()")
        waiter = self.create_future()
        ssl_protocol = _tls.ssl_protocol(
            self, protocol, sslcontext, waiter, server_side, server_hostname,
            ssl_handshake_timeout=ssl_handshake_timeout,
            ssl_shutdown_timeout=ssl_shutdown_timeout, call_connection_made=False,
            received=_buffered_by_stream_reader(protocol) if server_side else b"")
        # Paused first, so no data reaches the TLS protocol before connection_made.
        transport.pause_reading()
        transport.set_protocol(ssl_protocol)
        made = self.call_soon(ssl_protocol.connection_made, transport)
        resumed = self.call_soon(transport.resume_reading)
        try:
            await waiter
        except BaseException:
            transport.close()
            made.cancel()
            resumed.cancel()
            waiter = None  # it holds the error, whose traceback holds this frame: a cycle
            raise
        return ssl_protocol._app_transport

    # -- connecting -------------------------------------------------------------------

    async def _connect_sock(self, exceptions, addr_info, local_addr_infos=None):
        """One socket, bound if asked, connected; closed on any failure."""
        mine = []
        exceptions.append(mine)
        family, type_, proto, _, address = addr_info
        sock = None
        try:
            sock = socket.socket(family=family, type=type_ | NONBLOCK, proto=proto)
            if local_addr_infos is not None:
                for lfamily, _, _, _, laddr in local_addr_infos:
                    if lfamily != family:
                        continue
                    try:
                        sock.bind(laddr)
                        break
                    except OSError as exc:
                        mine.append(_versions.bind_error(laddr, exc))
                else:
                    if mine:
                        raise mine.pop()
                    raise OSError(f"no matching local address with family={family!r} found")
            await self._connect_resolved(sock, address)
            return sock
        except OSError as exc:
            mine.append(exc)
            if sock is not None:
                sock.close()
            raise
        except BaseException:
            if sock is not None:
                sock.close()
            raise
        finally:
            # The error's traceback holds this frame: no cycle back to the error.
            exceptions = mine = None

    async def _race_connect(self, infos, delay, laddr_infos, exceptions):
        """Happy Eyeballs (RFC 8305): start the next attempt when the previous one fails
        or after ``delay`` seconds; the first success wins, every other attempt is
        cancelled and any socket it still produced is closed."""
        pending = set()
        remaining = iter(infos)
        more = True
        try:
            while True:
                if more:
                    info = next(remaining, None)
                    if info is None:
                        more = False
                    else:
                        pending.add(self.create_task(
                            self._connect_sock(exceptions, info, laddr_infos)))
                if not pending:
                    return None
                done, _ = await tasks.wait(pending, timeout=delay if more else None,
                                           return_when=tasks.FIRST_COMPLETED)
                winner = None
                for task in done:
                    pending.discard(task)
                    if task.cancelled():
                        continue
                    exc = task.exception()
                    if exc is None:
                        if winner is None:
                            winner = task.result()
                        else:
                            task.result().close()
                    elif not isinstance(exc, OSError):
                        if winner is not None:
                            winner.close()
                        raise exc
                if winner is not None:
                    return winner
        finally:
            for task in pending:
                task.cancel()
                task.add_done_callback(_close_result)

    async def create_connection(self, protocol_factory, host=None, port=None, *, ssl=None,
                                family=0, proto=0, flags=0, sock=None, local_addr=None,
                                server_hostname=None, ssl_handshake_timeout=None,
                                ssl_shutdown_timeout=None, happy_eyeballs_delay=None,
                                interleave=None, all_errors=False):
        """Connect to a TCP server; returns ``(transport, protocol)``."""
        if server_hostname is not None and not ssl:
            raise ValueError("server_hostname is only meaningful with ssl")
        if server_hostname is None and ssl:
            if not host:
                raise ValueError("You must set server_hostname when using ssl without a host")
            server_hostname = host
        if ssl_handshake_timeout is not None or ssl_shutdown_timeout is not None:
            _check_ssl_timeouts(ssl, ssl_handshake_timeout, ssl_shutdown_timeout)
        if sock is not None:
            _check_ssl_socket(sock)
        if happy_eyeballs_delay is not None and interleave is None:
            interleave = 1

        if host is not None or port is not None:
            if sock is not None:
                raise ValueError("host/port and sock can not be specified at the same time")
            infos = await _resolve.resolve(self, (host, port), family=family,
                                           proto=proto, flags=flags)
            if not infos:
                raise OSError("getaddrinfo() returned empty list")
            laddr_infos = None
            if local_addr is not None:
                laddr_infos = await _resolve.resolve(self, local_addr, family=family,
                                                     proto=proto, flags=flags)
                if not laddr_infos:
                    raise OSError("getaddrinfo() returned empty list")
            if interleave:
                infos = _resolve.interleave(infos, interleave)
            exceptions = []
            if happy_eyeballs_delay is None:
                for info in infos:
                    try:
                        sock = await self._connect_sock(exceptions, info, laddr_infos)
                        break
                    except OSError:
                        continue
            else:
                sock = await self._race_connect(infos, happy_eyeballs_delay, laddr_infos,
                                                exceptions)
            if sock is None:
                flat = [exc for sub in exceptions for exc in sub]
                try:
                    if all_errors:
                        raise ExceptionGroup("create_connection failed", flat)
                    raise _combined_error(flat)
                finally:
                    flat = exceptions = None
        else:
            if sock is None:
                raise ValueError("host and port was not specified and no sock specified")
            if sock.type != socket.SOCK_STREAM:
                raise ValueError(f"A Stream Socket was expected, got {sock!r}")

        transport, protocol = await self._create_connection_transport(
            sock, protocol_factory, ssl, server_hostname,
            ssl_handshake_timeout=ssl_handshake_timeout,
            ssl_shutdown_timeout=ssl_shutdown_timeout,
            own_sock=host is not None or port is not None)
        if self.get_debug():
            logger.debug("%r connected to %s:%r: (%r, %r)",
                         transport.get_extra_info("socket"), host, port, transport, protocol)
        return transport, protocol

    async def create_unix_connection(self, protocol_factory, path=None, *, ssl=None,
                                     sock=None, server_hostname=None,
                                     ssl_handshake_timeout=None, ssl_shutdown_timeout=None):
        """Connect to a Unix stream socket; returns ``(transport, protocol)``."""
        if ssl:
            if server_hostname is None:
                raise ValueError("you have to pass server_hostname when using ssl")
        elif server_hostname is not None:
            raise ValueError("server_hostname is only meaningful with ssl")
        _check_ssl_timeouts(ssl, ssl_handshake_timeout, ssl_shutdown_timeout)
        if path is not None:
            if sock is not None:
                raise ValueError("path and sock can not be specified at the same time")
            path = os.fspath(path)
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM, 0)
            try:
                sock.setblocking(False)
                await self.sock_connect(sock, path)
            except BaseException:
                sock.close()
                raise
        else:
            if sock is None:
                raise ValueError("no path and sock were specified")
            if sock.family != socket.AF_UNIX or sock.type != socket.SOCK_STREAM:
                raise ValueError(f"A UNIX Domain Stream Socket was expected, got {sock!r}")
            sock.setblocking(False)
        return await self._create_connection_transport(
            sock, protocol_factory, ssl, server_hostname,
            ssl_handshake_timeout=ssl_handshake_timeout,
            ssl_shutdown_timeout=ssl_shutdown_timeout)

    async def connect_accepted_socket(self, protocol_factory, sock, *, ssl=None,
                                      ssl_handshake_timeout=None,
                                      ssl_shutdown_timeout=None):
        """Wrap a socket accepted outside the loop into a transport/protocol pair."""
        if sock.type != socket.SOCK_STREAM:
            raise ValueError(f"A Stream Socket was expected, got {sock!r}")
        _check_ssl_timeouts(ssl, ssl_handshake_timeout, ssl_shutdown_timeout)
        _check_ssl_socket(sock)
        transport, protocol = await self._create_connection_transport(
            sock, protocol_factory, ssl, "", server_side=True,
            ssl_handshake_timeout=ssl_handshake_timeout,
            ssl_shutdown_timeout=ssl_shutdown_timeout)
        if self.get_debug():
            logger.debug("%r handled: (%r, %r)",
                         transport.get_extra_info("socket"), transport, protocol)
        return transport, protocol

