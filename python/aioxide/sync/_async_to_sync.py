"""async_to_sync: call a coroutine function from sync code and block for its result."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import types
import warnings
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Generic, ParamSpec, TypeVar, overload

from .._versions import iscoroutinefunction
from ._cancel import SyncCall, current_call
from ._context import copy_back
from ._executor import loop_pool
from ._waiter import ThreadWaiter, current_waiter, loop_waiters

_P = ParamSpec("_P")
_R = TypeVar("_R")


class _Outcome:
    """The coroutine's result or exception, written on the loop, read by the caller."""

    __slots__ = ("ok", "value")

    def __init__(self) -> None:
        self.ok = False
        self.value: Any = None

    def unwrap(self) -> Any:
        if self.ok:
            return self.value
        error = self.value
        self.value = None
        if error is None:  # the task was cancelled before the coroutine started
            error = asyncio.CancelledError()
        try:
            raise error
        finally:
            del error


async def _capture(awaitable: Awaitable[Any], outcome: _Outcome) -> None:
    try:
        outcome.value = await awaitable
        outcome.ok = True
    except BaseException as exc:  # delivered to the sync caller, whatever it is
        outcome.value = exc


def _close_unawaited(awaitable: Awaitable[Any]) -> None:
    """A coroutine that will never run (its call was cancelled first) is closed, so it is
    not reported as "never awaited"."""
    close = getattr(awaitable, "close", None)
    if close is not None:
        close()


def _start_on_loop(
    loop: asyncio.AbstractEventLoop,
    awaitable: Awaitable[Any],
    context: contextvars.Context,
    outcome: _Outcome,
    waiter: ThreadWaiter,
    call: SyncCall | None,
) -> None:
    """On the original loop: run the coroutine as a task in the caller's context."""
    task = loop.create_task(_capture(awaitable, outcome), context=context)
    if call is not None:
        if call.track(loop, task):
            task.add_done_callback(lambda t: call.untrack(loop, t))
        else:  # cancelled before it could start: it never will
            _close_unawaited(awaitable)
    task.add_done_callback(lambda _: waiter.finish())


def _run_new_loop(
    awaitable: Awaitable[Any],
    context: contextvars.Context,
    outcome: _Outcome,
    waiter: ThreadWaiter,
    call: SyncCall | None,
) -> None:
    """In a loop thread: what asyncio.run does, on a fresh aioxide loop."""
    from .._entry import new_event_loop

    try:
        loop = new_event_loop()
        loop_waiters[loop] = waiter
        try:
            task = loop.create_task(_capture(awaitable, outcome), context=context)
            if call is None or call.track(loop, task):
                loop.run_until_complete(task)
            else:
                _close_unawaited(awaitable)
                outcome.value = asyncio.CancelledError()
            if call is not None:
                call.untrack(loop, task)
            _cancel_leftovers(loop)
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            del loop_waiters[loop]
            loop.close()
    except BaseException as exc:
        if outcome.value is None and not outcome.ok:
            outcome.value = exc
    finally:
        waiter.finish()


def _cancel_leftovers(loop: asyncio.AbstractEventLoop) -> None:
    tasks = asyncio.all_tasks(loop)
    if not tasks:
        return
    for task in tasks:
        task.cancel()
    loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
    for task in tasks:
        if not task.cancelled() and task.exception() is not None:
            loop.call_exception_handler(
                {
                    "message": "unhandled exception during async_to_sync() shutdown",
                    "exception": task.exception(),
                    "task": task,
                }
            )


class AsyncToSync(Generic[_P, _R]):
    """A coroutine function made callable from sync code. Use ``async_to_sync``."""

    def __init__(
        self,
        awaitable: Callable[_P, Coroutine[Any, Any, _R]] | Callable[_P, Awaitable[_R]],
        *,
        force_new_loop: bool = False,
    ) -> None:
        if not callable(awaitable) or not (
            iscoroutinefunction(awaitable)
            or iscoroutinefunction(type(awaitable).__call__)
        ):
            # Detection of async callables has false negatives: warn, do not refuse.
            warnings.warn("async_to_sync was passed a non-async-marked callable",
                          stacklevel=2)
        functools.update_wrapper(self, awaitable)
        self.awaitable = awaitable
        self.force_new_loop = force_new_loop
        if hasattr(awaitable, "__self__"):
            self.__self__ = awaitable.__self__

    def __call__(self, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            raise RuntimeError(
                "You cannot use AsyncToSync in the same thread as an async event loop - "
                "just await the async function directly."
            )
        call = current_call()
        if call is not None and call.cancelled:
            raise asyncio.CancelledError(
                "the sync_to_async call running this code was cancelled"
            )
        main_loop = None if self.force_new_loop or call is None else call.loop
        awaitable = self.awaitable(*args, **kwargs)
        waiter = ThreadWaiter(current_waiter.get())
        context = contextvars.copy_context()
        context.run(current_waiter.set, waiter)
        outcome = _Outcome()
        started = False
        if main_loop is not None:
            try:
                main_loop.call_soon_threadsafe(
                    _start_on_loop, main_loop, awaitable, context, outcome, waiter, call
                )
                started = True
            except RuntimeError:  # that loop is closed: fall back to a new one
                pass
        if not started:
            loop_pool().submit(
                functools.partial(_run_new_loop, awaitable, context, outcome, waiter, call)
            )
        try:
            waiter.run_until_done()
        finally:
            copy_back(context)
        return outcome.unwrap()

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        return types.MethodType(self, instance)

    def __repr__(self) -> str:
        return f"<AsyncToSync {self.awaitable!r}>"


@overload
def async_to_sync(
    awaitable: None = None, *, force_new_loop: bool = False
) -> Callable[[Callable[_P, Awaitable[_R]]], Callable[_P, _R]]: ...


@overload
def async_to_sync(
    awaitable: Callable[_P, Awaitable[_R]], *, force_new_loop: bool = False
) -> Callable[_P, _R]: ...


def async_to_sync(
    awaitable: Callable[_P, Awaitable[_R]] | None = None, *, force_new_loop: bool = False
) -> Any:
    """Wrap a coroutine function so that calling it from sync code runs it and blocks.

    From a thread running a sync_to_async function, the coroutine runs on that call's
    event loop (meanwhile this thread serves thread-sensitive calls); from a plain
    thread, or with ``force_new_loop=True``, on a fresh aioxide loop in a helper thread.
    From a thread whose event loop is running it raises RuntimeError.
    """
    if awaitable is None:
        return lambda f: AsyncToSync(f, force_new_loop=force_new_loop)
    return AsyncToSync(awaitable, force_new_loop=force_new_loop)
