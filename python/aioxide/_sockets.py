"""Low-level socket coroutines: ``sock_recv``, ``sock_sendall``, ``sock_connect``, ...

Each one tries the operation at once; only if the socket would block does it wait for
readiness, retrying the same operation from a reader or writer callback. Attempts look
the socket's method up on every try (as asyncio does), so a wrapped or mocked socket
whose methods change while waiting behaves the same. One helper,
``_attempt``, does that for every method: the methods differ only in what they try.
The watcher is removed when the future is done, whatever made it done (result,
exception or cancellation), so no callback outlives its awaitable.
"""

from __future__ import annotations

import collections.abc
import errno
import functools
import socket
from asyncio import exceptions, futures

from ._aioxide import SockCall, connect_succeeded
from ._socket_fast import accept_nonblocking, family_of, natively_accepted

# What loop.sock_recv()/sock_sendall() return is a coroutine to asyncio (create_task,
# iscoroutine): it has send, throw, close and __await__.
collections.abc.Coroutine.register(SockCall)

try:
    import ssl
except ImportError:  # pragma: no cover - Python built without ssl
    ssl = None  # type: ignore[assignment]

_READ = 0
_WRITE = 1

# sock_recv/sock_sendall are native throughout: plain non-blocking socket.socket objects
# on the fast path, anything else (a subclass or a mock that overrides recv/send, a
# blocking socket) through the object's own methods (sock_slow.rs). The other sock_*
# methods below are Python.


def _refuse_ssl_socket(sock) -> None:
    if ssl is not None and isinstance(sock, ssl.SSLSocket):
        raise TypeError("Socket cannot be of type SSLSocket")


def _numeric_address(address, family):
    """``address`` unchanged when its host is already a numeric IP of ``family``."""
    host, port = address[:2]
    if not isinstance(port, int) or not isinstance(host, str):
        return None
    try:
        socket.inet_pton(family, host)
    except (OSError, ValueError):
        return None
    return address


def _step(fut, attempt) -> None:
    """Reader/writer callback: retry ``attempt`` until it stops blocking."""
    if fut.done():
        return
    try:
        result = attempt()
    except (BlockingIOError, InterruptedError):
        return
    except (SystemExit, KeyboardInterrupt):
        raise
    except BaseException as exc:
        fut.set_exception(exc)
        del fut  # the error's traceback holds this frame: no cycle back to the error
    else:
        fut.set_result(result)


class SocketMixin:
    def _check_sock(self, sock) -> None:
        _refuse_ssl_socket(sock)
        if self.get_debug() and sock.gettimeout() != 0:
            raise ValueError("the socket must be non-blocking")

    def _unwatch(self, side, fd, handle, fut) -> None:
        if not handle.cancelled():
            if side == _READ:
                self.remove_reader(fd)
            else:
                self.remove_writer(fd)

    def _wait_until(self, side, sock, attempt):
        """A future resolved by retrying ``attempt`` whenever ``sock`` is ready."""
        fut = self.create_future()
        fd = sock.fileno()
        self._ensure_fd_no_transport(fd)
        add = self._add_reader if side == _READ else self._add_writer
        handle = add(fd, _step, fut, attempt)
        fut.add_done_callback(functools.partial(self._unwatch, side, fd, handle))
        return fut

    async def _attempt(self, side, sock, attempt):
        self._check_sock(sock)
        try:
            return attempt()
        except (BlockingIOError, InterruptedError):
            pass
        return await self._wait_until(side, sock, attempt)

    # sock_recv and sock_sendall are LoopCore methods returning a native coroutine
    # (sock_call.rs; sock_slow.rs for the objects the fast path does not take).

    async def sock_recv_into(self, sock, buf):
        return await self._attempt(_READ, sock, lambda: sock.recv_into(buf))

    async def sock_recvfrom(self, sock, bufsize):
        return await self._attempt(_READ, sock, lambda: sock.recvfrom(bufsize))

    async def sock_recvfrom_into(self, sock, buf, nbytes=0):
        nbytes = nbytes or len(buf)
        return await self._attempt(_READ, sock, lambda: sock.recvfrom_into(buf, nbytes))

    async def sock_sendto(self, sock, data, address):
        return await self._attempt(_WRITE, sock, lambda: sock.sendto(data, 0, address))

    async def sock_connect(self, sock, address):
        self._check_sock(sock)
        family = family_of(sock)
        if family in (socket.AF_INET, socket.AF_INET6):
            resolved = _numeric_address(address, family)
            if resolved is None:
                infos = await self.getaddrinfo(
                    *address[:2], family=sock.family, type=sock.type, proto=sock.proto
                )
                if not infos:
                    raise OSError("getaddrinfo() returned empty list")
                resolved = infos[0][4]
            address = resolved
        return await self._connect_resolved(sock, address)

    async def _connect_resolved(self, sock, address):
        """``sock_connect`` to an address that needs no lookup, of a socket checked."""
        try:
            sock.connect(address)
            return None
        except (BlockingIOError, InterruptedError):
            pass
        # A real socket's handshake may be over already (loopback). Success then comes
        # on the next iteration, as the socket's writability would have, without
        # watching the socket.
        if type(sock) is socket.socket and connect_succeeded(sock.fileno()):
            fut = self.create_future()
            self.call_soon(futures._set_result_unless_cancelled, fut, None)
            return await fut

        def connected():
            err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err != 0:
                raise OSError(err, f"Connect call failed {address}")

        return await self._wait_until(_WRITE, sock, connected)

    async def sock_accept(self, sock):
        def accept():
            accepted = accept_nonblocking(sock, native)
            if accepted is None:
                raise BlockingIOError
            return accepted

        native = natively_accepted(sock)

        return await self._attempt(_READ, sock, accept)


def not_connected(exc: OSError) -> OSError:
    """ENOTCONN after some bytes went out means the peer left: a ConnectionError."""
    if exc.errno == errno.ENOTCONN and type(exc) is not ConnectionError:
        new = ConnectionError("socket is not connected", errno.ENOTCONN)
        new.__cause__ = exc
        return new
    return exc


SendfileNotAvailableError = exceptions.SendfileNotAvailableError
