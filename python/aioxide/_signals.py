"""``add_signal_handler`` / ``remove_signal_handler``.

Python's C-level signal handler writes the signal number to the wakeup fd
(``signal.set_wakeup_fd``); the loop watches the other end of that socket pair, so a
signal wakes a loop sleeping in the poller, and the handler runs as a normal callback
on the loop thread. Only the main thread may install handlers, as in asyncio.
"""

from __future__ import annotations

import errno
import signal
import socket
import warnings
import weakref
from asyncio import coroutines, events
from asyncio.log import logger

from . import _versions


def _noop_handler(signum, frame) -> None:
    """Installed with ``signal.signal`` so that Python writes the wakeup byte."""


def _check_signal(sig) -> None:
    if not isinstance(sig, int):
        raise TypeError(f"sig must be an int, not {sig!r}")
    if sig not in signal.valid_signals():
        raise ValueError(f"invalid signal number {sig}")


def _clear_wakeup_fd() -> None:
    try:
        signal.set_wakeup_fd(-1)
    except (ValueError, OSError) as exc:
        logger.info("set_wakeup_fd(-1) failed: %s", exc)


class Signals:
    """The loop's signal handlers (``loop._signals``): the handler of each signal and
    the socket pair that carries signal numbers to the loop, made on first use."""

    def __init__(self, loop) -> None:
        self._loop_ref = weakref.ref(loop)  # the loop owns this: no cycle through it
        self.handlers: dict = {}
        self._pair: tuple[socket.socket, socket.socket] | None = None

    def _loop(self):
        return self._loop_ref()

    def _wakeup_socket(self) -> socket.socket:
        if self._pair is None:
            rsock, wsock = socket.socketpair()
            rsock.setblocking(False)
            wsock.setblocking(False)
            self._pair = (rsock, wsock)
            self._loop()._add_reader(rsock.fileno(), self._read)
        return self._pair[1]

    def _read(self) -> None:
        rsock = self._pair[0]
        while True:
            try:
                data = rsock.recv(4096)
            except (BlockingIOError, InterruptedError):
                return
            if not data:
                return
            for signum in data:
                self._dispatch(signum)

    def _dispatch(self, sig) -> None:
        handle = self.handlers.get(sig)
        if handle is None:
            return
        if handle.cancelled():
            self._loop().remove_signal_handler(sig)
        else:
            self._loop().call_soon(_run_signal_handle, handle)

    def add(self, sig, callback, args) -> None:
        if coroutines.iscoroutine(callback) or _versions.iscoroutinefunction(callback):
            raise TypeError("coroutines cannot be used with add_signal_handler()")
        _check_signal(sig)
        self._loop()._check_closed()
        try:
            # Raises ValueError outside the main thread: only that thread may own signals.
            signal.set_wakeup_fd(self._wakeup_socket().fileno())
        except (ValueError, OSError) as exc:
            raise RuntimeError(str(exc))  # noqa: B904 (asyncio keeps the cause as context)
        handlers = self.handlers
        handlers[sig] = events.Handle(callback, args, self._loop(), None)
        try:
            signal.signal(sig, _noop_handler)
            signal.siginterrupt(sig, False)  # SA_RESTART: fewer EINTRs elsewhere
        except OSError as exc:
            del handlers[sig]
            if not handlers:
                _clear_wakeup_fd()
            if exc.errno == errno.EINVAL:
                raise RuntimeError(f"sig {sig} cannot be caught")  # noqa: B904 (as asyncio)
            raise

    def remove(self, sig) -> bool:
        _check_signal(sig)
        handlers = self.handlers
        if handlers.pop(sig, None) is None:
            return False
        default = signal.default_int_handler if sig == signal.SIGINT else signal.SIG_DFL
        try:
            signal.signal(sig, default)
        except OSError as exc:
            if exc.errno == errno.EINVAL:
                raise RuntimeError(f"sig {sig} cannot be caught")  # noqa: B904 (as asyncio)
            raise
        if not handlers:
            _clear_wakeup_fd()
        return True

    def close(self, finalizing: bool) -> None:
        """On loop close: drop every handler (main thread) and the socket pair. At
        interpreter shutdown the handlers are only forgotten, with asyncio's warning."""
        if finalizing:
            if self.handlers:
                warnings.warn(f"Closing the loop {self._loop()!r} on interpreter shutdown "
                              "stage, skipping signal handlers removal", ResourceWarning,
                              stacklevel=3, source=self._loop())
                self.handlers.clear()
            return
        for sig in list(self.handlers):
            self._loop().remove_signal_handler(sig)
        pair, self._pair = self._pair, None
        if pair is not None:
            self._loop()._remove_reader(pair[0].fileno())
            for sock in pair:
                sock.close()


def _run_signal_handle(handle) -> None:
    if not handle.cancelled():
        handle._run()


class SignalMixin:
    """The loop's signal API, over its ``Signals``."""

    @property
    def _signal_handlers(self) -> dict:
        return self._signals.handlers

    def add_signal_handler(self, sig, callback, *args) -> None:
        """Run ``callback(*args)`` on the loop when signal ``sig`` arrives."""
        self._signals.add(sig, callback, args)

    def remove_signal_handler(self, sig) -> bool:
        """Remove the handler of ``sig``; True if there was one."""
        return self._signals.remove(sig)
