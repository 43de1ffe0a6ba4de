"""Listening sockets: ``create_server``, ``create_unix_server`` and ``Server``.

An accepted connection gets its protocol and transport at once, in the accept callback
(no task per connection); the protocol's ``connection_made`` runs on the next iteration,
as in asyncio. ``Server`` has the 3.13 API (``close_clients``, ``abort_clients``) on
every Python version, and removes the socket file of a Unix server it created when it
closes (``cleanup_socket``, 3.13), unless told not to.
"""

from __future__ import annotations

import collections.abc
import contextvars
import errno
import functools
import itertools
import os
import socket
import stat
import sys
from asyncio import events, exceptions, trsock
from asyncio import tasks as atasks
from asyncio.log import logger

from . import _resolve, _versions
from ._aioxide import Acceptor, ServerClients
from ._connections import ConnectionMixin, _check_ssl_socket
from ._socket_fast import accept_nonblocking, natively_accepted, raw_family, raw_type
from ._transports.sockets import SocketTransport

# asyncio's constants.ACCEPT_RETRY_DELAY: seconds before accepting again after EMFILE.
_ACCEPT_RETRY_DELAY = 1
_OUT_OF_RESOURCES = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)


class Server(events.AbstractServer):
    """A listening server, as returned by ``loop.create_server()``."""

    def __init__(self, loop, sockets, protocol_factory, ssl_context, backlog,
                 ssl_handshake_timeout=None, ssl_shutdown_timeout=None):
        self._loop = loop
        self._sockets = sockets
        # The connections, counted natively (transport/server_clients.rs).
        self._clients = ServerClients(self._wakeup)
        self._waiters = []
        self._protocol_factory = protocol_factory
        self._backlog = backlog
        self._ssl_context = ssl_context
        self._ssl_handshake_timeout = ssl_handshake_timeout
        self._ssl_shutdown_timeout = ssl_shutdown_timeout
        self._serving = False
        self._serving_forever_fut = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} sockets={self.sockets!r}>"

    @property
    def _active_count(self) -> int:
        return self._clients.active

    # asyncio's contract with a transport (aioxide's transports count themselves).
    def _attach(self, transport=None) -> None:
        self._clients.attach(transport)

    def _detach(self, transport=None) -> None:
        self._clients.detach(transport)

    def _wakeup(self) -> None:
        waiters, self._waiters = self._waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(waiter)

    def _start_serving(self) -> None:
        if self._serving:
            return
        self._serving = True
        for sock in self._sockets:
            sock.listen(self._backlog)
            self._loop._start_serving(self._protocol_factory, sock, self._ssl_context, self,
                                      self._backlog, self._ssl_handshake_timeout,
                                      self._ssl_shutdown_timeout)

    def get_loop(self):
        return self._loop

    def is_serving(self) -> bool:
        return self._serving

    @property
    def sockets(self):
        if self._sockets is None:
            return ()
        return tuple(trsock.TransportSocket(s) for s in self._sockets)

    def close(self) -> None:
        sockets = self._sockets
        if sockets is None:
            return
        self._sockets = None
        for sock in sockets:
            self._loop._stop_serving(sock)
        self._serving = False
        fut = self._serving_forever_fut
        if fut is not None and not fut.done():
            fut.cancel()
            self._serving_forever_fut = None
        if self._clients.close():
            self._wakeup()

    def close_clients(self) -> None:
        """Close every connection this server accepted (3.13)."""
        for transport in self._clients.transports():
            transport.close()

    def abort_clients(self) -> None:
        """Abort every connection this server accepted, dropping buffered data (3.13)."""
        for transport in self._clients.transports():
            transport.abort()

    async def start_serving(self) -> None:
        self._start_serving()
        await atasks.sleep(0)  # let the accept watchers register

    async def serve_forever(self) -> None:
        if self._serving_forever_fut is not None:
            raise RuntimeError(f"server {self!r} is already being awaited on serve_forever()")
        if self._sockets is None:
            raise RuntimeError(f"server {self!r} is closed")
        self._start_serving()
        self._serving_forever_fut = self._loop.create_future()
        try:
            await self._serving_forever_fut
        except exceptions.CancelledError:
            try:
                self.close()
                if _versions.SERVE_FOREVER_CLOSES_CLIENTS:
                    self.close_clients()
                await self.wait_closed()
            finally:
                raise
        finally:
            self._serving_forever_fut = None

    async def wait_closed(self) -> None:
        # 3.12.1 and later wait for the connections even when called before close();
        # 3.11 returns at once unless the server is closed and connections remain.
        if self._waiters is None:
            return
        if not _versions.WAIT_CLOSED_BEFORE_CLOSE and self._sockets is None:
            return
        waiter = self._loop.create_future()
        self._waiters.append(waiter)
        await waiter


class ServerMixin:
    # -- accepting ---------------------------------------------------------------------

    def _start_serving(self, protocol_factory, sock, sslcontext=None, server=None,
                       backlog=100, ssl_handshake_timeout=None, ssl_shutdown_timeout=None):
        args = (protocol_factory, sock, sslcontext, server, backlog, ssl_handshake_timeout,
                ssl_shutdown_timeout)
        if sslcontext or not natively_accepted(sock):
            self._add_reader(sock.fileno(), self._accept_connection, *args)
            return
        # A plain listener: the native acceptor takes the connections (transport/accept.rs).
        Acceptor(self, sock, (raw_family(sock), raw_type(sock), sock.proto),
                 protocol_factory, self._transport_maker(), server, backlog,
                 functools.partial(self._accept_connection, *args),
                 functools.partial(self._accept_failed, *args)).watch()

    def _transport_maker(self):
        """``make(sock, protocol, waiter, extra, server)``: this loop's socket transport."""
        own = ConnectionMixin._make_socket_transport
        if getattr(self._make_socket_transport, "__func__", None) is own:
            return functools.partial(SocketTransport, self)
        return lambda sock, protocol, waiter, extra, server: self._make_socket_transport(
            sock, protocol, waiter, extra=extra, server=server)

    def _stop_serving(self, sock) -> None:
        self._remove_reader(sock.fileno())
        inode = self._unix_server_inodes.pop(sock, None)
        path = sock.getsockname() if inode is not None else None
        sock.close()
        if path:
            try:
                if os.stat(path).st_ino == inode:
                    os.unlink(path)
            except FileNotFoundError:
                pass
            except OSError as err:
                logger.error("Unable to clean up listening UNIX socket %r: %r", path, err)

    def _accept_connection(self, protocol_factory, sock, sslcontext=None, server=None,
                           backlog=100, ssl_handshake_timeout=None,
                           ssl_shutdown_timeout=None):
        # Several connections may wait; accept up to `backlog` of them per readiness.
        native = natively_accepted(sock)
        for _ in range(backlog):
            try:
                accepted = accept_nonblocking(sock, native)
                if accepted is None:
                    return
                conn, addr = accepted
                if self.get_debug():
                    logger.debug("%r got a new connection from %r: %r", server, addr, conn)
            except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                return
            except OSError as exc:
                self._accept_failed(protocol_factory, sock, sslcontext, server, backlog,
                                    ssl_handshake_timeout, ssl_shutdown_timeout, exc)
                return
            extra = {"peername": addr}
            if sslcontext:
                self.create_task(self._accept_tls(protocol_factory, conn, extra, sslcontext,
                                                  server, ssl_handshake_timeout,
                                                  ssl_shutdown_timeout))
            else:
                # asyncio makes each connection in a task of its own: what the factory
                # sets in its context stays with that connection.
                contextvars.copy_context().run(self._accept_plain, protocol_factory, conn,
                                               extra, server)

    def _accept_failed(self, protocol_factory, sock, sslcontext, server, backlog,
                       ssl_handshake_timeout, ssl_shutdown_timeout, exc) -> None:
        if exc.errno not in _OUT_OF_RESOURCES:
            raise exc  # the loop's exception handler logs it
        # Linux keeps reporting the socket readable: stop watching for a while.
        self.call_exception_handler({
            "message": "socket.accept() out of system resource",
            "exception": exc,
            "socket": trsock.TransportSocket(sock),
        })
        self._remove_reader(sock.fileno())
        self.call_later(_ACCEPT_RETRY_DELAY, self._start_serving, protocol_factory, sock,
                        sslcontext, server, backlog, ssl_handshake_timeout,
                        ssl_shutdown_timeout)

    def _report_accept_failure(self, exc, protocol, transport) -> None:
        if self.get_debug():
            context = {"message": "Error on transport creation for incoming connection",
                       "exception": exc}
            if protocol is not None:
                context["protocol"] = protocol
            if transport is not None:
                context["transport"] = transport
            self.call_exception_handler(context)

    def _accept_plain(self, protocol_factory, conn, extra, server) -> None:
        protocol = None
        try:
            protocol = protocol_factory()
            self._make_socket_transport(conn, protocol, extra=extra, server=server)
        except (SystemExit, KeyboardInterrupt):
            conn.close()
            raise
        except BaseException as exc:
            conn.close()
            self._report_accept_failure(exc, protocol, None)

    async def _accept_tls(self, protocol_factory, conn, extra, sslcontext, server,
                          ssl_handshake_timeout, ssl_shutdown_timeout) -> None:
        protocol = transport = None
        try:
            protocol = protocol_factory()
            waiter = self.create_future()
            transport = self._make_ssl_transport(
                conn, protocol, sslcontext, waiter=waiter, server_side=True, extra=extra,
                server=server, ssl_handshake_timeout=ssl_handshake_timeout,
                ssl_shutdown_timeout=ssl_shutdown_timeout)
            try:
                await waiter
            except BaseException:
                transport.close()
                raise
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            if transport is None:
                conn.close()
            self._report_accept_failure(exc, protocol, transport)

    # -- creating servers -------------------------------------------------------------

    async def _serve(self, sockets, protocol_factory, ssl, backlog, ssl_handshake_timeout,
                     ssl_shutdown_timeout, start_serving):
        for sock in sockets:
            sock.setblocking(False)
        server = Server(self, sockets, protocol_factory, ssl, backlog,
                        ssl_handshake_timeout, ssl_shutdown_timeout)
        if start_serving:
            server._start_serving()
            await atasks.sleep(0)  # let the accept watchers register
        if self.get_debug():
            logger.info("%r is serving", server)
        return server

    def _bound_sockets(self, infos, reuse_address, reuse_port):
        sockets = []
        completed = False
        try:
            for af, socktype, proto, _, sa in infos:
                try:
                    sock = socket.socket(af, socktype, proto)
                except OSError:
                    # A family/type/protocol combination this host cannot open.
                    if self.get_debug():
                        logger.warning("create_server() failed to create socket.socket"
                                       "(%r, %r, %r)", af, socktype, proto, exc_info=True)
                    continue
                sockets.append(sock)
                if reuse_address:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, True)
                if reuse_port:
                    _resolve.set_reuseport(sock)
                if af == socket.AF_INET6 and hasattr(socket, "IPPROTO_IPV6"):
                    # One socket per family: no dual-stack listening.
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, True)
                try:
                    sock.bind(sa)
                except OSError as err:
                    raise _versions.bind_error(sa, err) from None
            completed = True
        finally:
            if not completed:
                for sock in sockets:
                    sock.close()
        return sockets

    async def create_server(self, protocol_factory, host=None, port=None, *,
                            family=socket.AF_UNSPEC, flags=socket.AI_PASSIVE, sock=None,
                            backlog=100, ssl=None, reuse_address=None, reuse_port=None,
                            keep_alive=None, ssl_handshake_timeout=None,
                            ssl_shutdown_timeout=None, start_serving=True):
        """Listen on ``host``/``port`` (or ``sock``); returns a ``Server``."""
        if isinstance(ssl, bool):
            raise TypeError("ssl argument must be an SSLContext or None")
        if ssl_handshake_timeout is not None and ssl is None:
            raise ValueError("ssl_handshake_timeout is only meaningful with ssl")
        if ssl_shutdown_timeout is not None and ssl is None:
            raise ValueError("ssl_shutdown_timeout is only meaningful with ssl")
        if sock is not None:
            _check_ssl_socket(sock)
        if host is not None or port is not None:
            if sock is not None:
                raise ValueError("host/port and sock can not be specified at the same time")
            if reuse_address is None:
                reuse_address = os.name == "posix" and sys.platform != "cygwin"
            if host == "":
                hosts = [None]
            elif isinstance(host, str) or not isinstance(host, collections.abc.Iterable):
                hosts = [host]
            else:
                hosts = host
            infos = await atasks.gather(*[
                self._server_addrinfo(h, port, family=family, flags=flags) for h in hosts])
            unique = dict.fromkeys(itertools.chain.from_iterable(infos))
            sockets = self._bound_sockets(unique, reuse_address, reuse_port)
            if keep_alive:
                for s in sockets:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, True)
        else:
            if sock is None:
                raise ValueError("Neither host/port nor sock were specified")
            if sock.type != socket.SOCK_STREAM:
                raise ValueError(f"A Stream Socket was expected, got {sock!r}")
            sockets = [sock]
        return await self._serve(sockets, protocol_factory, ssl, backlog,
                                 ssl_handshake_timeout, ssl_shutdown_timeout, start_serving)

    async def _server_addrinfo(self, host, port, family, flags):
        infos = await _resolve.resolve(self, (host, port), family=family, flags=flags)
        if not infos:
            raise OSError(f"getaddrinfo({host!r}) returned empty list")
        return infos

    async def create_unix_server(self, protocol_factory, path=None, *, sock=None,
                                 backlog=100, ssl=None, ssl_handshake_timeout=None,
                                 ssl_shutdown_timeout=None, start_serving=True,
                                 **kwargs):
        """Listen on a Unix stream socket; returns a ``Server``."""
        cleanup_socket = _versions.UNIX_SERVER_CLEANUP  # an argument from 3.13 on
        if cleanup_socket and "cleanup_socket" in kwargs:
            cleanup_socket = kwargs.pop("cleanup_socket")
        if kwargs:
            raise TypeError(f"create_unix_server() got an unexpected keyword argument "
                            f"{next(iter(kwargs))!r}")
        if isinstance(ssl, bool):
            raise TypeError("ssl argument must be an SSLContext or None")
        if ssl_handshake_timeout is not None and not ssl:
            raise ValueError("ssl_handshake_timeout is only meaningful with ssl")
        if ssl_shutdown_timeout is not None and not ssl:
            raise ValueError("ssl_shutdown_timeout is only meaningful with ssl")
        if path is not None:
            if sock is not None:
                raise ValueError("path and sock can not be specified at the same time")
            path = os.fspath(path)
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            if path[0] not in (0, "\x00"):
                remove_stale_socket(path)
            try:
                sock.bind(path)
            except OSError as exc:
                sock.close()
                if exc.errno == errno.EADDRINUSE:
                    raise OSError(errno.EADDRINUSE,
                                  f"Address {path!r} is already in use") from None
                raise
            except BaseException:
                sock.close()
                raise
        else:
            if sock is None:
                raise ValueError("path was not specified, and no sock specified")
            if sock.family != socket.AF_UNIX or sock.type != socket.SOCK_STREAM:
                raise ValueError(f"A UNIX Domain Stream Socket was expected, got {sock!r}")
        if cleanup_socket:
            name = sock.getsockname()
            if name and name[0] not in (0, "\x00"):
                try:
                    inode = os.stat(name).st_ino
                except FileNotFoundError:
                    pass
                else:
                    self._unix_server_inodes[sock] = inode
        return await self._serve([sock], protocol_factory, ssl, backlog,
                                 ssl_handshake_timeout, ssl_shutdown_timeout, start_serving)


def remove_stale_socket(path) -> None:
    """A socket file left at ``path`` by a dead server is removed before binding."""
    try:
        if stat.S_ISSOCK(os.stat(path).st_mode):
            os.remove(path)
    except FileNotFoundError:
        pass
    except OSError as err:
        logger.error("Unable to check or remove stale UNIX socket %r: %r", path, err)
