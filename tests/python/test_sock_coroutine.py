"""What ``loop.sock_recv()`` and ``loop.sock_sendall()`` return behaves as a coroutine.

aioxide returns a native coroutine object instead of a Python one; asyncio's tools must
not see a difference: ``iscoroutine``, tasks made from it, ``send``/``throw``/``close``,
reuse errors, the task's repr.
"""

from __future__ import annotations

import asyncio
import gc
import re
import sys

import pytest

pytestmark = pytest.mark.timeout(30)


def test_it_is_a_coroutine_and_runs_as_a_task(loop, pair):
    a, b = pair

    async def main():
        coro = loop.sock_recv(b, 100)
        assert asyncio.iscoroutine(coro)
        task = loop.create_task(coro)
        await asyncio.sleep(0)
        assert "sock_recv" in repr(task)
        await loop.sock_sendall(a, b"via a task")
        return await asyncio.wait_for(task, 5)

    assert loop.run_until_complete(main()) == b"via a task"


def test_send_throw_and_close_by_hand(loop, pair):
    a, b = pair

    async def main():
        coro = loop.sock_recv(b, 100)
        with pytest.raises(TypeError):
            coro.send(1)  # a just-started coroutine takes only None, and stays unstarted
        await loop.sock_sendall(a, b"still usable")
        assert await coro == b"still usable"
        coro = loop.sock_recv(b, 100)
        waited = coro.send(None)  # nothing to read: it yields the future it waits on
        assert asyncio.isfuture(waited)
        with pytest.raises(ValueError, match="thrown in"):
            coro.throw(ValueError("thrown in"))
        with pytest.raises(RuntimeError, match="cannot reuse already awaited coroutine"):
            coro.send(None)

        coro = loop.sock_recv(b, 100)
        coro.send(None)
        coro.close()
        with pytest.raises(RuntimeError, match="cannot reuse already awaited coroutine"):
            coro.send(None)
        loop.remove_reader(b.fileno())  # what the abandoned futures left, if anything

        coro = loop.sock_sendall(a, b"done at once")
        with pytest.raises(StopIteration) as stop:
            coro.send(None)
        assert stop.value.value is None
        return await loop.sock_recv(b, 100)

    assert loop.run_until_complete(main()) == b"done at once"


def test_awaiting_twice_is_refused(loop, pair):
    a, b = pair

    async def main():
        await loop.sock_sendall(a, b"x")
        coro = loop.sock_recv(b, 100)
        assert await coro == b"x"
        with pytest.raises(RuntimeError, match="cannot reuse already awaited coroutine"):
            await coro

    loop.run_until_complete(main())


def test_errors_come_at_await_time(loop, pair):
    a, b = pair
    b.close()

    async def main():
        coro = loop.sock_recv(b, 100)  # no error yet: the call only makes the coroutine
        with pytest.raises(OSError):
            await coro
        with pytest.raises(OSError):
            await loop.sock_sendall(b, b"data")

    loop.run_until_complete(main())


def test_cancelling_the_awaiting_task(loop, pair):
    a, b = pair

    async def main():
        task = loop.create_task(loop.sock_recv(b, 100))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # The socket is free for the next reader, which gets the data.
        await loop.sock_sendall(a, b"after cancel")
        return await asyncio.wait_for(loop.sock_recv(b, 100), 5)

    assert loop.run_until_complete(main()) == b"after cancel"


def test_a_call_never_awaited_warns_as_a_coroutine_does(loop, pair):
    loop.set_debug(False)  # the default, unless PYTHONASYNCIODEBUG=1 says otherwise
    a, b = pair

    async def main():
        loop.sock_recv(b, 100)  # dropped at once: never awaited
        coro = loop.sock_sendall(a, b"x")
        del coro
        coro = loop.sock_recv(b, 100)
        coro.close()  # closed before it ran: no warning, as for a Python coroutine
        del coro

    with pytest.warns(RuntimeWarning, match="was never awaited") as caught:
        loop.run_until_complete(main())
        gc.collect()
    never_awaited = re.compile(r"coroutine '(?:\w+\.)?(\w+)' was never awaited")
    named = sorted(
        never_awaited.fullmatch(str(w.message)).group(1)
        for w in caught
        if issubclass(w.category, RuntimeWarning)
    )
    assert named == ["sock_recv", "sock_sendall"]


def test_a_call_never_awaited_in_debug_mode_says_where_it_was_made(loop, pair):
    """With coroutine origin tracking on (asyncio's debug mode), the warning names the
    line that made the call and ``cr_origin`` holds it, as for a Python coroutine."""
    a, b = pair
    loop.set_debug(True)
    old_depth = sys.get_coroutine_origin_tracking_depth()
    sys.set_coroutine_origin_tracking_depth(3)
    try:
        with pytest.warns(RuntimeWarning, match="was never awaited") as caught:
            call = loop.sock_recv(b, 100)  # made here, never awaited
            origin = call.cr_origin
            del call
            gc.collect()
    finally:
        sys.set_coroutine_origin_tracking_depth(old_depth)
        loop.set_debug(False)
    filename, lineno, function = origin[0]
    assert (filename, function) == (__file__, sys._getframe().f_code.co_name)
    assert 1 <= len(origin) <= 3
    text = "\n".join(str(w.message) for w in caught)
    assert "Coroutine created at (most recent call last)" in text
    assert f'File "{__file__}", line {lineno}' in text
    assert "call = loop.sock_recv(b, 100)  # made here, never awaited" in text


def test_cr_origin_is_none_outside_debug_mode(loop, pair):
    a, b = pair
    call = loop.sock_recv(b, 100)
    try:
        assert call.cr_origin is None
    finally:
        call.close()
