"""The exception handler API and the errors raised for wrong arguments."""

from __future__ import annotations

import asyncio
import functools
import gc
import logging
import re

import pytest
from _util import run_briefly


def boom():
    raise ValueError("boom")


async def coro_func():
    pass


class Owner:
    async def method(self):
        pass


@pytest.fixture
def asyncio_log(caplog):
    caplog.set_level(logging.DEBUG, logger="asyncio")
    return caplog


def error_records(caplog):
    return [r for r in caplog.records if r.name == "asyncio" and r.levelno == logging.ERROR]


# -- set / get -------------------------------------------------------------------------------


def test_set_and_get_exception_handler(loop):
    def handler(lp, ctx):
        pass

    assert loop.get_exception_handler() is None
    loop.set_exception_handler(handler)
    assert loop.get_exception_handler() is handler
    loop.set_exception_handler(None)
    assert loop.get_exception_handler() is None


def test_set_exception_handler_rejects_a_non_callable(loop):
    with pytest.raises(TypeError, match="A callable object or None is expected, got 'nope'"):
        loop.set_exception_handler("nope")
    assert loop.get_exception_handler() is None


def test_custom_handler_receives_loop_and_context(loop):
    calls = []
    loop.set_exception_handler(lambda lp, ctx: calls.append((lp, ctx)))
    context = {"message": "hello", "extra": 1}
    loop.call_exception_handler(context)
    assert calls == [(loop, context)]


# -- the default handler ---------------------------------------------------------------------


def test_default_handler_logs_message_and_exc_info(loop, asyncio_log):
    exc = RuntimeError("oops")
    loop.default_exception_handler({"message": "something failed", "exception": exc})
    [record] = error_records(asyncio_log)
    assert record.getMessage() == "something failed"
    assert record.exc_info[1] is exc


def test_default_handler_lists_other_keys_sorted(loop, asyncio_log):
    loop.default_exception_handler({"message": "msg", "zeta": "z", "alpha": [1, 2]})
    [record] = error_records(asyncio_log)
    assert record.getMessage() == "msg\nalpha: [1, 2]\nzeta: 'z'"
    assert not record.exc_info


def test_default_handler_without_message(loop, asyncio_log):
    loop.default_exception_handler({})
    [record] = error_records(asyncio_log)
    assert record.getMessage() == "Unhandled exception in event loop"


def test_call_exception_handler_without_custom_handler_logs(loop, asyncio_log):
    exc = KeyError("k")
    loop.call_exception_handler({"message": "via call", "exception": exc})
    [record] = error_records(asyncio_log)
    assert record.getMessage() == "via call"
    assert record.exc_info[1] is exc


def test_callback_exception_is_logged_by_default(loop, asyncio_log):
    handle = loop.call_soon(boom)
    run_briefly(loop)
    [record] = error_records(asyncio_log)
    lines = record.getMessage().split("\n")
    assert re.fullmatch(r"Exception in callback boom\(\) at .+test_errors\.py:\d+", lines[0])
    assert lines[1] == f"handle: {handle!r}"
    assert isinstance(record.exc_info[1], ValueError)


def test_failing_custom_handler_is_reported(loop, asyncio_log):
    handler_exc = ZeroDivisionError("in handler")

    def handler(lp, ctx):
        raise handler_exc

    loop.set_exception_handler(handler)
    loop.call_exception_handler({"message": "original"})
    [record] = error_records(asyncio_log)
    message = record.getMessage()
    assert message.startswith("Unhandled error in exception handler\n")
    assert "context: {'message': 'original'}" in message
    assert record.exc_info[1] is handler_exc


def test_failing_custom_handler_does_not_stop_the_loop(loop, asyncio_log):
    seen = []

    def handler(lp, ctx):
        raise ZeroDivisionError

    loop.set_exception_handler(handler)
    loop.call_soon(boom)
    loop.call_soon(seen.append, "after")
    run_briefly(loop)
    assert seen == ["after"]
    [record] = error_records(asyncio_log)
    assert record.getMessage().startswith("Unhandled error in exception handler")


def test_keyboard_interrupt_from_handler_propagates(loop):
    def handler(lp, ctx):
        raise KeyboardInterrupt

    loop.set_exception_handler(handler)
    loop.call_soon(boom)
    with pytest.raises(KeyboardInterrupt):
        loop.run_forever()
    assert not loop.is_running()


def test_base_exception_from_callback_goes_to_the_handler(loop):
    class Custom(BaseException):
        pass

    def raise_custom():
        raise Custom

    contexts = []
    loop.set_exception_handler(lambda lp, ctx: contexts.append(ctx))
    loop.call_soon(raise_custom)
    run_briefly(loop)
    assert len(contexts) == 1
    assert isinstance(contexts[0]["exception"], Custom)


def test_task_exception_never_retrieved_is_reported(loop):
    contexts = []
    loop.set_exception_handler(lambda lp, ctx: contexts.append(ctx))

    async def failing():
        raise ValueError("lost")

    task = loop.create_task(failing())
    loop.run_until_complete(asyncio.wait([task]))
    del task
    gc.collect()
    assert len(contexts) == 1
    assert contexts[0]["message"] == "Task exception was never retrieved"
    assert isinstance(contexts[0]["exception"], ValueError)


def test_future_exception_never_retrieved_is_reported(loop):
    contexts = []
    loop.set_exception_handler(lambda lp, ctx: contexts.append(ctx))
    fut = loop.create_future()
    fut.set_exception(OSError("never read"))
    del fut
    gc.collect()
    assert [c["message"] for c in contexts] == ["Future exception was never retrieved"]


# -- wrong argument types --------------------------------------------------------------------


@pytest.fixture
def debug_loop(loop):
    # asyncio checks callbacks in debug mode only; there both loops must refuse the same way.
    loop.set_debug(True)
    return loop


# Each way of scheduling a callback (due at once), and the method name asyncio's
# TypeError gives for it (call_later reports call_at, which it calls).
SCHEDULERS = {
    "call_soon": (lambda lp, cb: lp.call_soon(cb), "call_soon"),
    "call_soon_threadsafe": (lambda lp, cb: lp.call_soon_threadsafe(cb), "call_soon_threadsafe"),
    "call_later": (lambda lp, cb: lp.call_later(0, cb), "call_at"),
    "call_at": (lambda lp, cb: lp.call_at(lp.time(), cb), "call_at"),
}


@pytest.mark.parametrize("method, name", SCHEDULERS.values(), ids=SCHEDULERS.keys())
def test_non_callable_is_refused(debug_loop, method, name):
    message = f"a callable object was expected by {name}(), got 42"
    with pytest.raises(TypeError, match=re.escape(message)):
        method(debug_loop, 42)


@pytest.mark.parametrize("method, name", SCHEDULERS.values(), ids=SCHEDULERS.keys())
def test_non_callable_outside_debug_mode_fails_when_it_runs(loop, method, name):
    loop.set_debug(False)  # the default, unless PYTHONASYNCIODEBUG=1 says otherwise
    # As asyncio and uvloop: no check when scheduling; calling it fails in the exception
    # handler and the loop goes on (Sanic's tests schedule a task object this way).
    seen = []
    loop.set_exception_handler(lambda lp, ctx: seen.append(ctx))
    handle = method(loop, 42)
    assert not handle.cancelled()
    loop.call_later(0.01, loop.stop)
    loop.run_forever()
    assert len(seen) == 1
    assert isinstance(seen[0]["exception"], TypeError)
    assert "'int' object is not callable" in str(seen[0]["exception"])
    assert seen[0]["message"] == "Exception in callback 42()"
    assert seen[0]["handle"] is handle


@pytest.mark.parametrize(
    "callback",
    [coro_func, Owner().method, functools.partial(coro_func)],
    ids=["function", "bound-method", "partial"],
)
def test_coroutine_function_is_refused_by_call_soon(debug_loop, callback):
    with pytest.raises(TypeError, match=re.escape("coroutines cannot be used with call_soon()")):
        debug_loop.call_soon(callback)


def test_coroutine_object_is_refused_by_call_soon(debug_loop):
    coro = coro_func()
    try:
        with pytest.raises(
            TypeError, match=re.escape("coroutines cannot be used with call_soon()")
        ):
            debug_loop.call_soon(coro)
    finally:
        coro.close()


def test_coroutine_function_is_refused_by_call_later(debug_loop):
    with pytest.raises(TypeError, match=re.escape("coroutines cannot be used with call_at()")):
        debug_loop.call_later(1, coro_func)


def test_coroutine_function_is_refused_by_run_in_executor(debug_loop):
    message = "coroutines cannot be used with run_in_executor()"
    with pytest.raises(TypeError, match=re.escape(message)):
        debug_loop.run_in_executor(None, coro_func)


def test_call_later_with_none_delay(loop):
    with pytest.raises(TypeError, match="delay must not be None"):
        loop.call_later(None, print)


def test_call_at_with_none_when(loop):
    with pytest.raises(TypeError, match="when cannot be None"):
        loop.call_at(None, print)


@pytest.mark.parametrize("method", ["call_soon", "call_later", "call_at"])
def test_debug_mode_refuses_calls_from_another_thread(debug_loop, method):
    loop = debug_loop

    def from_thread():
        try:
            if method == "call_soon":
                loop.call_soon(print)
            elif method == "call_later":
                loop.call_later(1, print)
            else:
                loop.call_at(loop.time() + 1, print)
        except RuntimeError as exc:
            return str(exc)
        return None

    async def main():
        return await loop.run_in_executor(None, from_thread)

    message = loop.run_until_complete(main())
    assert message == (
        "Non-thread-safe operation invoked on an event loop other than the current one"
    )


def test_call_soon_threadsafe_from_another_thread_is_fine_in_debug_mode(debug_loop):
    loop = debug_loop
    fut = loop.create_future()

    def from_thread():
        loop.call_soon_threadsafe(fut.set_result, "from-thread")

    async def main():
        await loop.run_in_executor(None, from_thread)
        return await fut

    assert loop.run_until_complete(main()) == "from-thread"
