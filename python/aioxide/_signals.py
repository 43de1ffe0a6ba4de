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


class SignalMixin:
    @property
    def _signal_handlers(self) -> dict:
        handlers = self.__dict__.get("_signal_handler_table")
        if handlers is None:
            handlers = self.__dict__["_signal_handler_table"] = {}
        return handlers

    def _signal_socket(self):
        pair = self.__dict__.get("_signal_pair")
        if pair is None:
            rsock, wsock = socket.socketpair()
            rsock.setblocking(False)
            wsock.setblocking(False)
            pair = self.__dict__["_signal_pair"] = (rsock, wsock)
            self._add_reader(rsock.fileno(), self._read_signals)
        return pair[1]

    def _read_signals(self) -> None:
        rsock = self.__dict__["_signal_pair"][0]
        while True:
            try:
                data = rsock.recv(4096)
            except (BlockingIOError, InterruptedError):
                return
            if not data:
                return
            for signum in data:
                self._handle_signal(signum)

    def _handle_signal(self, sig) -> None:
        handle = self._signal_handlers.get(sig)
        if handle is None:
            return
        if handle.cancelled():
            self.remove_signal_handler(sig)
        else:
            self.call_soon(self._run_signal_handle, handle)

    @staticmethod
    def _run_signal_handle(handle) -> None:
        if not handle.cancelled():
            handle._run()

    def add_signal_handler(self, sig, callback, *args) -> None:
        """Run ``callback(*args)`` on the loop when signal ``sig`` arrives."""
        if coroutines.iscoroutine(callback) or _versions.iscoroutinefunction(callback):
            raise TypeError("coroutines cannot be used with add_signal_handler()")
        _check_signal(sig)
        self._check_closed()
        try:
            # Raises ValueError outside the main thread: only that thread may own signals.
            signal.set_wakeup_fd(self._signal_socket().fileno())
        except (ValueError, OSError) as exc:
            raise RuntimeError(str(exc))  # noqa: B904 (asyncio keeps the cause as context)
        handlers = self._signal_handlers
        handlers[sig] = events.Handle(callback, args, self, None)
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

    def remove_signal_handler(self, sig) -> bool:
        """Remove the handler of ``sig``; True if there was one."""
        _check_signal(sig)
        handlers = self._signal_handlers
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

    def _close_signals(self) -> None:
        """On loop close: drop every handler (main thread) and the socket pair."""
        for sig in list(self._signal_handlers):
            self.remove_signal_handler(sig)
        pair = self.__dict__.pop("_signal_pair", None)
        if pair is not None:
            self._remove_reader(pair[0].fileno())
            for sock in pair:
                sock.close()
