"""What the Python faces of the native transport cores share (``StreamCore`` for
socket and pipe transports, ``DatagramCore`` for datagram transports).

``asyncio.BaseTransport`` declares ``__slots__ = ('_extra',)``, whose layout cannot be
combined with a native base class, so each transport is a thin ``asyncio`` transport
subclass holding its core in ``_core``. These mixins go ahead of the ``asyncio`` base
class so their methods replace its abstract ones.
"""

from __future__ import annotations

import warnings
from asyncio.log import logger


class CoreFace:
    """The ``BaseTransport`` API, state names asyncio's code reads, and fatal errors."""

    _core = None

    @property
    def _protocol(self):
        return self._core.get_protocol()

    @property
    def _closing(self):
        return self._core.is_closing()

    def is_closing(self) -> bool:
        return self._core.is_closing()

    def close(self) -> None:
        self._core.close()

    def get_protocol(self):
        return self._core.get_protocol()

    def set_protocol(self, protocol) -> None:
        self._core.set_protocol(protocol)

    # -- asyncio's private transport API ---------------------------------------------

    def _force_close(self, exc) -> None:
        self._core._force_close(exc)


class SocketFace(CoreFace):
    """What a transport over a socket (stream or datagram) adds: the socket, its fd in
    ``_sock_fd``, asyncio's repr and the unclosed-transport warning."""

    @property
    def _sock(self):
        return self._core.sock() if self._core is not None else None

    @property
    def _protocol_paused(self):
        return self._core.protocol_paused

    def __repr__(self) -> str:
        info = [type(self).__name__]
        core = self._core
        if core.sock() is None:
            info.append("closed")
        elif core.is_closing():
            info.append("closing")
        info.append(f"fd={self._sock_fd}")
        if not self._loop.is_closed() and core.sock() is not None:
            reading = self._loop._has_reader(self._sock_fd)
            info.append("read=polling" if reading else "read=idle")
            state = "polling" if core.is_writing() else "idle"
            info.append(f"write=<{state}, bufsize={core.get_write_buffer_size()}>")
        return "<{}>".format(" ".join(info))

    def __del__(self, _warn=warnings.warn) -> None:
        core = self._core
        sock = core.sock() if core is not None else None
        if sock is not None:
            _warn(f"unclosed transport {self!r}", ResourceWarning, source=self)
            sock.close()


class CoreReading:
    """The ``ReadTransport`` API."""

    def is_reading(self) -> bool:
        return self._core.is_reading()

    def pause_reading(self) -> None:
        if self._core.pause_reading() and self._loop.get_debug():
            logger.debug("%r pauses reading", self)

    def resume_reading(self) -> None:
        if self._core.resume_reading() and self._loop.get_debug():
            logger.debug("%r resumes reading", self)


class CoreBuffer:
    """What every transport that queues output has: its size, its water marks, abort."""

    def abort(self) -> None:
        self._core.abort()

    def get_write_buffer_size(self) -> int:
        return self._core.get_write_buffer_size()

    def get_write_buffer_limits(self):
        return self._core.get_write_buffer_limits()

    def set_write_buffer_limits(self, high=None, low=None) -> None:
        self._core.set_write_buffer_limits(high, low)


class CoreWriting(CoreBuffer):
    """The ``WriteTransport`` API of a byte stream. ``__init__`` also sets the core's
    ``write``, ``writelines``, ``get_write_buffer_size``, ``is_closing`` and ``close`` on
    the instance (no Python frame per call); these methods serve code that calls them
    through the class."""

    def _bind_hot_methods(self) -> None:
        core = self._core
        self.write = core.write
        self.writelines = core.writelines
        self.get_write_buffer_size = core.get_write_buffer_size
        self.is_closing = core.is_closing
        self.close = core.close

    def write(self, data) -> None:
        self._core.write(data)

    def writelines(self, list_of_data) -> None:
        self._core.writelines(list_of_data)

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        self._core.write_eof()
