"""``aioxide.Loop``: an ``asyncio.AbstractEventLoop`` whose core runs in Rust.

``LoopCore`` (native) owns the ready queue, the timers, the poller and the iteration
itself; the mixins add the rest of the API by area, over the state ``__new__`` declares
(plain attributes, and components with logic of their own: ``Signals``, ``Children``).
This class is only the lifecycle: ``run_forever``, ``run_until_complete``, ``close``,
debug mode and the fd watchers' public names.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import warnings
import weakref
from asyncio import AbstractEventLoop, base_events, coroutines, events, futures, tasks

from ._aioxide import LoopCore
from ._asyncgens import AsyncGenMixin
from ._connections import ConnectionMixin
from ._datagram import DatagramMixin
from ._errors import ExceptionHandlerMixin
from ._executor import ExecutorMixin
from ._pipes import PipeMixin
from ._sendfile import SendfileMixin, TransportSendfileMixin
from ._servers import ServerMixin
from ._signals import SignalMixin, Signals
from ._sockets import SocketMixin
from ._subprocess import Children, SubprocessMixin

# Bound at import: a loop closed from __del__ at shutdown may outlive the sys module.
_is_finalizing = sys.is_finalizing

# asyncio's constants.DEBUG_STACK_DEPTH: frames kept for coroutine origin tracking.
_DEBUG_STACK_DEPTH = 10


def _env_watchdog_threshold() -> float | None:
    """``AIOXIDE_WATCHDOG=0.1`` turns the blocking watchdog on for every aioxide loop."""
    value = os.environ.get("AIOXIDE_WATCHDOG", "").strip()
    if not value:
        return None
    try:
        threshold = float(value)
    except ValueError:
        warnings.warn(f"AIOXIDE_WATCHDOG={value!r} is not a number of seconds; ignored",
                      RuntimeWarning, stacklevel=3)
        return None
    return threshold if threshold > 0 else None


def _stop_when_done(fut) -> None:
    # A future that ended with SystemExit/KeyboardInterrupt is already propagating the
    # exception out of run_forever; stopping here too would swallow nothing but is
    # pointless (asyncio issue 22429).
    if not fut.cancelled():
        exc = fut.exception()
        if isinstance(exc, (SystemExit, KeyboardInterrupt)):
            return
    futures._get_loop(fut).stop()


class Loop(
    # LoopCore first: the native methods are found first on attribute lookup, and the
    # native code's own checks that an object is a LoopCore walk a shorter MRO. No mixin
    # overrides a native method.
    LoopCore,
    ExceptionHandlerMixin,
    ExecutorMixin,
    AsyncGenMixin,
    ConnectionMixin,
    ServerMixin,
    DatagramMixin,
    PipeMixin,
    SubprocessMixin,
    SignalMixin,
    TransportSendfileMixin,
    SendfileMixin,
    SocketMixin,
    AbstractEventLoop,
):
    """The aioxide event loop. Create it with ``aioxide.new_event_loop()``."""

    # asyncio's name for the monotonic clock's resolution (read by asyncio's own tests).
    _clock_resolution = time.get_clock_info("monotonic").resolution

    def __new__(cls, *args, **kwargs):
        # Every piece of the Python side's state, made with the loop (as uvloop's
        # ``__cinit__``), so that a subclass that skips ``Loop.__init__`` still has it.
        self = super().__new__(cls)
        self._thread_id: int | None = None
        self.slow_callback_duration = 0.1
        self._origin_tracking = False
        self._saved_origin_depth: int | None = None
        self._watchdog = None
        self._watchdog_threshold: float | None = None
        self._exception_handler = None
        self._default_executor = None
        self._executor_shutdown_called = False
        self._asyncgens = weakref.WeakSet()
        self._asyncgens_shutdown_called = False
        self._unix_server_inodes: dict = {}  # a Unix server's socket -> its path's inode
        self._signals = Signals(self)
        self._children = Children(self)
        # What other parts of aioxide attach to the loop and release on close (the
        # engine of ``aioxide.fs``): callables, run once by ``close()``.
        self._close_hooks: list = []
        return self

    def __init__(self) -> None:
        self._watchdog_threshold = _env_watchdog_threshold()
        self.set_debug(coroutines._is_debug_mode())

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} running={self.is_running()} "
            f"closed={self.is_closed()} debug={self.get_debug()}>"
        )

    @property
    def _closed(self) -> bool:
        """``is_closed()`` under the attribute name asyncio's and uvloop's loops have,
        which some libraries and test suites read."""
        return self.is_closed()

    def __del__(self, _warn=warnings.warn) -> None:
        if not self.is_closed():
            _warn(f"unclosed event loop {self!r}", ResourceWarning, source=self)
            if not self.is_running():
                self.close()

    # -- running -------------------------------------------------------------------

    def _check_running(self) -> None:
        if self.is_running():
            raise RuntimeError("This event loop is already running")
        if events._get_running_loop() is not None:
            raise RuntimeError("Cannot run the event loop while another loop is running")

    def run_forever(self) -> None:
        """Run until ``stop()`` is called."""
        self._check_closed()
        self._check_running()
        self._set_coroutine_origin_tracking(self.get_debug())
        saved_hooks = sys.get_asyncgen_hooks()
        try:
            self._set_running(True)
            self._thread_id = threading.get_ident()
            sys.set_asyncgen_hooks(
                firstiter=self._asyncgen_firstiter_hook,
                finalizer=self._asyncgen_finalizer_hook,
            )
            events._set_running_loop(self)
            self._metrics_start()
            self._start_configured_watchdog()
            self._run_until_stopped()
        finally:
            self._metrics_stop()
            self._set_running(False)
            self._thread_id = None
            events._set_running_loop(None)
            self._set_coroutine_origin_tracking(False)
            sys.set_asyncgen_hooks(*saved_hooks)

    def run_until_complete(self, future):
        """Run until ``future`` (a future, task or coroutine) is done; return its result
        or raise its exception."""
        self._check_closed()
        self._check_running()
        wrapped = not futures.isfuture(future)
        future = tasks.ensure_future(future, loop=self)
        if wrapped:
            # The task is ours, so an exception raised through run_until_complete must
            # not be reported again as "never retrieved".
            future._log_destroy_pending = False
        future.add_done_callback(_stop_when_done)
        try:
            self.run_forever()
        except BaseException:
            if wrapped and future.done() and not future.cancelled():
                future.exception()
            raise
        finally:
            future.remove_done_callback(_stop_when_done)
        if not future.done():
            raise RuntimeError("Event loop stopped before Future completed.")
        return future.result()

    def close(self) -> None:
        """Drop pending callbacks, release the poller, shut the default executor down
        without waiting. The loop must not be running."""
        if self.is_running():
            raise RuntimeError("Cannot close a running event loop")
        if self.is_closed():
            return
        if self.get_debug():
            base_events.logger.debug("Close %r", self)
        if self._watchdog is not None:
            self._watchdog.stop()
            self._watchdog = None
        hooks, self._close_hooks = self._close_hooks, []
        for hook in hooks:
            hook()
        self._signals.close(_is_finalizing())
        self._children.close()
        self._close_core()
        self._executor_shutdown_called = True
        executor = self._default_executor
        if executor is not None:
            self._default_executor = None
            executor.shutdown(wait=False)

    # -- debug mode ----------------------------------------------------------------

    def set_debug(self, enabled: bool) -> None:
        self._set_debug_flag(bool(enabled))
        if self.is_running():
            self.call_soon_threadsafe(self._set_coroutine_origin_tracking, enabled)
            if enabled:  # debug mode brings the watchdog; a running loop gets it now
                self.call_soon_threadsafe(self._start_configured_watchdog)

    # -- watchdog and metrics (aioxide.debug) ----------------------------------------------

    def _attach_watchdog(self, threshold: float, *, repeat_interval: float = 60.0):
        from .debug import Watchdog

        self._check_closed()
        if self._watchdog is not None:
            self._watchdog.stop()
        self._watchdog = Watchdog(self, threshold, repeat_interval=repeat_interval).start()
        return self._watchdog

    def _start_configured_watchdog(self) -> None:
        if self._watchdog is not None and self._watchdog.running:
            return
        threshold = self._watchdog_threshold
        if threshold is None and self.get_debug():
            threshold = self.slow_callback_duration
        if threshold is not None:
            self._attach_watchdog(threshold)

    def metrics(self) -> dict:
        """Loop counters; see ``aioxide.debug.metrics``."""
        return self._metrics()

    def _set_coroutine_origin_tracking(self, enabled: bool) -> None:
        if bool(enabled) == bool(self._origin_tracking):
            return
        if enabled:
            self._saved_origin_depth = sys.get_coroutine_origin_tracking_depth()
            sys.set_coroutine_origin_tracking_depth(_DEBUG_STACK_DEPTH)
        else:
            sys.set_coroutine_origin_tracking_depth(self._saved_origin_depth or 0)
        self._origin_tracking = enabled

    # -- watching file descriptors ---------------------------------------------------

    def add_reader(self, fd, callback, *args) -> None:
        """Call ``callback(*args)`` whenever ``fd`` is readable (level-triggered)."""
        self._ensure_fd_no_transport(fd)
        self._add_reader(fd, callback, *args)

    def remove_reader(self, fd) -> bool:
        self._ensure_fd_no_transport(fd)
        return self._remove_reader(fd)

    def add_writer(self, fd, callback, *args) -> None:
        """Call ``callback(*args)`` whenever ``fd`` is writable (level-triggered)."""
        self._ensure_fd_no_transport(fd)
        self._add_writer(fd, callback, *args)

    def remove_writer(self, fd) -> bool:
        self._ensure_fd_no_transport(fd)
        return self._remove_writer(fd)
