"""sync_to_async: await a sync callable run in another thread."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import types
from collections.abc import Callable, Coroutine
from concurrent.futures import Executor
from typing import Any, Generic, ParamSpec, TypeVar, overload

from .._versions import iscoroutinefunction
from ._cancel import SyncCall
from ._context import copy_back
from ._executor import Work, shared_thread, worker_pool
from ._waiter import current_waiter, loop_waiters

_P = ParamSpec("_P")
_R = TypeVar("_R")


def _resolve(future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    """On the caller's loop: hand the outcome of the sync function to its awaiter."""
    if future.done():  # the caller was cancelled meanwhile
        return
    if ok:
        future.set_result(value)
    elif isinstance(value, StopIteration):  # a Future refuses StopIteration
        error = RuntimeError(f"sync function raised {type(value).__name__}")
        error.__cause__ = value
        future.set_exception(error)
    else:
        future.set_exception(value)


class _Job:
    """One call, run by whichever thread it is submitted to."""

    __slots__ = ("call", "func", "args", "kwargs", "context", "future")

    def __init__(
        self,
        call: SyncCall,
        func: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        context: contextvars.Context,
        future: asyncio.Future[Any],
    ) -> None:
        self.call = call
        self.func = func
        self.args = args
        self.kwargs = kwargs
        self.context = context
        self.future = future

    def __call__(self) -> None:
        deliver = self.run()
        if deliver is not None:
            deliver()

    def run(self) -> Callable[[], None] | None:
        """Runs the call; returns what hands its outcome to the caller's loop, so a pool
        can mark its thread idle first (the caller's next call then finds it idle)."""
        call = self.call
        if not call.start():
            return None  # cancelled before it started: never run it
        try:
            value = self.context.run(self.func, *self.args, **self.kwargs)
            ok = True
        except BaseException as exc:
            value, ok = exc, False
        finally:
            call.finish()
        del self.args, self.kwargs
        if call.cancelled:
            return None  # nobody awaits the outcome any more
        future, outcome = self.future, [ok, value]
        del value  # held by `outcome` alone, emptied once delivered: no traceback cycle

        def deliver() -> None:
            try:
                call.loop.call_soon_threadsafe(_resolve, future, *outcome)
            except RuntimeError:  # the caller's loop is closed
                pass
            finally:
                outcome.clear()

        return deliver


class SyncToAsync(Generic[_P, _R]):
    """A sync callable made awaitable. Use ``sync_to_async`` to build one."""

    def __init__(
        self,
        func: Callable[_P, _R],
        *,
        thread_sensitive: bool = True,
        executor: Executor | None = None,
        timeout: float | None = None,
    ) -> None:
        if not callable(func) or _is_async(func):
            raise TypeError("sync_to_async can only be applied to sync functions.")
        if thread_sensitive and executor is not None:
            raise TypeError("executor must not be set when thread_sensitive is True")
        if timeout is not None and timeout <= 0:
            raise ValueError("timeout must be a positive number of seconds or None")
        functools.update_wrapper(self, func)
        self.func = func
        self._thread_sensitive = thread_sensitive
        self._executor = executor
        self._timeout = timeout
        if hasattr(inspect, "markcoroutinefunction"):  # Python 3.12+
            inspect.markcoroutinefunction(self)
        else:
            self._is_coroutine = asyncio.coroutines._is_coroutine  # type: ignore[attr-defined]
        if hasattr(func, "__self__"):
            self.__self__ = func.__self__

    def _submitter(self, loop: asyncio.AbstractEventLoop) -> Callable[[Work], object]:
        if not self._thread_sensitive:
            if self._executor is not None:
                return self._executor.submit
            return worker_pool().submit
        waiter = current_waiter.get()
        if waiter is None:
            waiter = loop_waiters.get(loop)
        if waiter is not None:
            return waiter.submit
        pool = shared_thread()
        if pool.owns_current_thread():
            raise RuntimeError(
                "Single thread executor already being used, would deadlock: a "
                "thread-sensitive sync_to_async call was awaited from an event loop "
                "running inside the shared sync thread"
            )
        return pool.submit

    async def __call__(self, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        loop = asyncio.get_running_loop()
        submit = self._submitter(loop)
        future = loop.create_future()
        context = contextvars.copy_context()
        call = SyncCall(self.func, loop)
        submit(_Job(call, self.func, args, kwargs, context, future))
        try:
            if self._timeout is None:
                try:
                    return await future
                except asyncio.CancelledError:
                    call.cancel()
                    raise
            async with asyncio.timeout(self._timeout):
                try:
                    return await future
                except asyncio.CancelledError:
                    call.cancel()
                    raise
        finally:
            if not call.cancelled:
                copy_back(context)

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        return types.MethodType(self, instance)

    def __repr__(self) -> str:
        return f"<SyncToAsync {self.func!r}>"


def _is_async(func: Any) -> bool:
    return iscoroutinefunction(func) or iscoroutinefunction(type(func).__call__)


@overload
def sync_to_async(
    func: None = None,
    *,
    thread_sensitive: bool = True,
    executor: Executor | None = None,
    timeout: float | None = None,
) -> Callable[[Callable[_P, _R]], Callable[_P, Coroutine[Any, Any, _R]]]: ...


@overload
def sync_to_async(
    func: Callable[_P, _R],
    *,
    thread_sensitive: bool = True,
    executor: Executor | None = None,
    timeout: float | None = None,
) -> Callable[_P, Coroutine[Any, Any, _R]]: ...


def sync_to_async(
    func: Callable[_P, _R] | None = None,
    *,
    thread_sensitive: bool = True,
    executor: Executor | None = None,
    timeout: float | None = None,
) -> Any:
    """Wrap a sync callable so that awaiting it runs it in another thread.

    ``thread_sensitive=True`` (the default) runs every such call in one thread: the
    outermost sync thread when the call came through ``async_to_sync``, otherwise one
    shared thread. ``thread_sensitive=False`` runs it in ``executor``, or in aioxide's
    bounded worker pool. ``timeout`` (seconds) cancels the wait and raises TimeoutError.
    Usable as ``sync_to_async(f)``, ``@sync_to_async`` and ``@sync_to_async(...)``.
    """
    if func is None:
        return lambda f: SyncToAsync(
            f, thread_sensitive=thread_sensitive, executor=executor, timeout=timeout
        )
    return SyncToAsync(func, thread_sensitive=thread_sensitive, executor=executor,
                       timeout=timeout)
