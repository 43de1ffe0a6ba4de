"""Socket set-up with fewer system calls and no enum conversions, for the accept and
connect paths: ``socket.socket.family``/``.type`` build an enum on every read, and
``setblocking(False)`` after ``accept()`` costs an ``ioctl`` that ``accept4`` and
``socket(SOCK_NONBLOCK)`` make unneeded. (``TCP_NODELAY`` is set natively: see
``transport/stream_open.rs``.)"""

from __future__ import annotations

import _socket
import os
import socket

from ._aioxide import accept as _accept

raw_family = _socket.socket.family.__get__  # the int, no AddressFamily
raw_type = _socket.socket.type.__get__
NATIVE_ACCEPT_FAMILIES = frozenset({socket.AF_INET, socket.AF_INET6, socket.AF_UNIX})
# socket.socket(type=... | SOCK_NONBLOCK) starts in non-blocking mode (timeout 0.0)
# without an ioctl; the socket's ``type`` leaves the flag out. (Linux: aioxide is.)
NONBLOCK = socket.SOCK_NONBLOCK


def family_of(sock) -> int:
    """``sock.family``, without the enum for a real socket."""
    return raw_family(sock) if isinstance(sock, _socket.socket) else sock.family


def natively_accepted(sock: socket.socket) -> bool:
    """Whether ``accept_nonblocking`` serves this listener: a plain, non-blocking
    ``socket.socket`` (a subclass or a mock may override ``accept``; a blocking one
    keeps Python's GIL-releasing wait) of a family taken apart natively."""
    return type(sock) is socket.socket and sock.gettimeout() == 0.0 \
        and raw_family(sock) in NATIVE_ACCEPT_FAMILIES


def accept_nonblocking(sock: socket.socket, native: bool):
    """``sock.accept()`` with the connection made non-blocking: ``(conn, address)``, or
    None when no connection waits. ``native``: ``natively_accepted(sock)``, which
    takes one ``accept4`` for the lot; otherwise the object's own ``accept()``."""
    if not native:
        try:
            conn, address = sock.accept()
        except (BlockingIOError, InterruptedError):
            return None
        conn.setblocking(False)
        return conn, address
    got = _accept(sock.fileno())
    if got is None:
        return None
    fd, address = got
    try:
        conn = socket.socket(raw_family(sock), raw_type(sock) | NONBLOCK, sock.proto, fd)
    except BaseException:
        os.close(fd)
        raise
    return conn, address
