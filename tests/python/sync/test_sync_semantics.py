"""asgiref's documented sync/async bridge semantics, checked on aioxide.sync and on
asgiref itself (``impl`` fixture), on aioxide and stdlib loops (``loop`` fixture).

A scenario that passes with asgiref and fails with aioxide.sync is a bug in aioxide.sync.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import importlib
import threading
import traceback
import types

import pytest
from aioxide._versions import iscoroutinefunction

IMPLS = {"aioxide": "aioxide.sync", "asgiref": "asgiref.sync"}

var_a: contextvars.ContextVar[str] = contextvars.ContextVar("var_a")
var_b: contextvars.ContextVar[str] = contextvars.ContextVar("var_b")

pytestmark = pytest.mark.timeout(10)


@pytest.fixture(params=list(IMPLS), ids=list(IMPLS))
def impl(request) -> types.ModuleType:
    """The module providing sync_to_async / async_to_sync."""
    return importlib.import_module(IMPLS[request.param])


def _in_thread(fn, *args):
    """Run ``fn`` in a new plain thread; return its result or raise its exception."""
    box: dict[str, object] = {}

    def target() -> None:
        try:
            box["value"] = fn(*args)
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(8)
    assert not thread.is_alive(), "bridge call deadlocked"
    if "error" in box:
        raise box["error"]
    return box["value"]


# -- nesting ------------------------------------------------------------------------------


def _four_levels(impl, tag: str):
    """async -> sync -> async -> sync -> async: the thread names seen at each level."""

    async def level4() -> list[str]:
        await asyncio.sleep(0)
        return [f"{tag}4:{threading.current_thread().name}"]

    def level3() -> list[str]:
        return [f"{tag}3:{threading.current_thread().name}", *impl.async_to_sync(level4)()]

    async def level2() -> list[str]:
        return [f"{tag}2:{threading.current_thread().name}",
                *await impl.sync_to_async(level3)()]

    def level1() -> list[str]:
        return [f"{tag}1:{threading.current_thread().name}", *impl.async_to_sync(level2)()]

    return impl.sync_to_async(level1)


def _thread_of(levels: list[str], level: str) -> str:
    return next(item.split(":", 1)[1] for item in levels if item.startswith(level + ":"))


def test_nested_four_levels(impl, loop) -> None:
    loop_thread = threading.current_thread().name
    levels = loop.run_until_complete(_four_levels(impl, "x")())
    assert [item.split(":")[0] for item in levels] == ["x1", "x2", "x3", "x4"]
    # both sync levels ran in the one thread-sensitive thread, both async ones on the loop
    assert _thread_of(levels, "x1") == _thread_of(levels, "x3") != loop_thread
    assert _thread_of(levels, "x2") == _thread_of(levels, "x4") == loop_thread


def test_nested_four_levels_under_gather(impl, loop) -> None:
    async def main():
        return await asyncio.gather(*(_four_levels(impl, tag)() for tag in "abc"))

    results = loop.run_until_complete(main())
    sync_threads = {_thread_of(levels, f"{tag}{n}")
                    for levels, tag in zip(results, "abc", strict=True) for n in (1, 3)}
    assert len(sync_threads) == 1  # thread-sensitive: one thread for all of them


def test_nested_four_levels_under_wait_for(impl, loop) -> None:
    async def main():
        return await asyncio.wait_for(_four_levels(impl, "w")(), timeout=8)

    levels = loop.run_until_complete(main())
    assert len(levels) == 4


def test_nested_from_a_plain_thread(impl) -> None:
    """sync -> async -> sync -> async -> sync: the sync levels run in the calling thread."""

    def outer() -> tuple[str, list[str]]:
        async def level2() -> list[str]:
            return await impl.sync_to_async(level3)()

        def level3() -> list[str]:
            return [threading.current_thread().name, *impl.async_to_sync(level4)()]

        async def level4() -> list[str]:
            return await impl.sync_to_async(level5)()

        def level5() -> list[str]:
            return [threading.current_thread().name]

        return threading.current_thread().name, impl.async_to_sync(level2)()

    caller, seen = _in_thread(outer)
    assert seen == [caller, caller]


# -- threads ------------------------------------------------------------------------------


def test_thread_sensitive_calls_share_one_thread(impl, loop) -> None:
    def name() -> str:
        return threading.current_thread().name

    async def main() -> list[str]:
        first = await impl.sync_to_async(name)()
        second = await impl.sync_to_async(name, thread_sensitive=True)()
        other = await impl.sync_to_async(name, thread_sensitive=False)()
        return [first, second, other]

    first, second, other = loop.run_until_complete(main())
    here = threading.current_thread().name
    assert first == second != here
    assert other != here


def test_async_to_sync_runs_thread_sensitive_code_in_the_outermost_thread(impl) -> None:
    def outer() -> tuple[int, int]:
        async def middle() -> int:
            return await impl.sync_to_async(threading.get_ident)()

        return threading.get_ident(), impl.async_to_sync(middle)()

    caller, inner = _in_thread(outer)
    assert caller == inner


def test_async_to_sync_runs_on_the_original_loop(impl, loop) -> None:
    async def which_loop() -> asyncio.AbstractEventLoop:
        return asyncio.get_running_loop()

    def sync() -> asyncio.AbstractEventLoop:
        return impl.async_to_sync(which_loop)()

    async def main() -> asyncio.AbstractEventLoop:
        return await impl.sync_to_async(sync)()

    assert loop.run_until_complete(main()) is loop


def test_async_to_sync_refuses_a_thread_with_a_running_loop(impl, loop) -> None:
    async def coro() -> None:
        pass

    async def main() -> None:
        with pytest.raises(RuntimeError, match="event loop"):
            impl.async_to_sync(coro)()

    loop.run_until_complete(main())


# -- contextvars --------------------------------------------------------------------------


def test_contextvars_round_trip_from_async(impl, loop) -> None:
    def sync() -> str:
        seen = var_a.get()
        var_b.set("from sync")
        return seen

    async def main() -> tuple[str, str]:
        var_a.set("from async")
        seen = await impl.sync_to_async(sync)()
        return seen, var_b.get()

    assert loop.run_until_complete(main()) == ("from async", "from sync")


def test_contextvars_round_trip_from_sync(impl) -> None:
    async def coro() -> str:
        seen = var_a.get()
        var_b.set("from async")
        return seen

    def outer() -> tuple[str, str]:
        var_a.set("from sync")
        seen = impl.async_to_sync(coro)()
        return seen, var_b.get()

    assert _in_thread(contextvars.copy_context().run, outer) == ("from sync", "from async")


def test_contextvars_across_nested_bridges(impl, loop) -> None:
    async def inner() -> None:
        var_b.set(var_a.get() + "+inner")

    def sync() -> None:
        var_a.set("sync")
        impl.async_to_sync(inner)()

    async def main() -> str:
        await impl.sync_to_async(sync)()
        return var_b.get()

    assert loop.run_until_complete(main()) == "sync+inner"


# -- exceptions and values ----------------------------------------------------------------


class Boom(Exception):
    pass


def _frame_names(exc: BaseException) -> list[str]:
    return [frame.name for frame in traceback.extract_tb(exc.__traceback__)]


def test_sync_exception_and_traceback_reach_the_awaiter(impl, loop) -> None:
    error = Boom("sync failed")

    def failing_sync_function() -> None:
        raise error

    async def main() -> None:
        await impl.sync_to_async(failing_sync_function)()

    with pytest.raises(Boom) as info:
        loop.run_until_complete(main())
    assert info.value is error
    assert "failing_sync_function" in _frame_names(info.value)


def test_async_exception_and_traceback_reach_the_sync_caller(impl) -> None:
    error = Boom("async failed")

    async def failing_coroutine() -> None:
        await asyncio.sleep(0)
        raise error

    with pytest.raises(Boom) as info:
        _in_thread(impl.async_to_sync(failing_coroutine))
    assert info.value is error
    assert "failing_coroutine" in _frame_names(info.value)


def test_return_values_are_not_copied(impl, loop) -> None:
    payload = {"big": list(range(10))}

    async def coro() -> dict:
        return payload

    def sync() -> dict:
        return impl.async_to_sync(coro)()

    async def main() -> dict:
        return await impl.sync_to_async(sync)()

    assert loop.run_until_complete(main()) is payload


# -- wrapper forms ------------------------------------------------------------------------


class Counter:
    def __init__(self) -> None:
        self.value = 0

    def add(self, n: int) -> int:
        self.value += n
        return self.value

    async def aadd(self, n: int) -> int:
        self.value += n
        return self.value


def test_sync_to_async_wrapper_forms(impl, loop) -> None:
    s2a = impl.sync_to_async

    @s2a
    def plain(x: int) -> int:
        return x * 2

    @s2a(thread_sensitive=False)
    def configured(x: int) -> int:
        return x * 3

    class Thing(Counter):
        @s2a
        def method(self, n: int) -> int:
            return self.add(n)

    thing = Thing()
    counter = Counter()

    async def main() -> list[int]:
        return [
            await plain(1),
            await configured(1),
            await thing.method(5),
            await s2a(counter.add)(7),
            await s2a(functools.partial(pow, 2))(10),
            await s2a(lambda: 4)(),
        ]

    assert loop.run_until_complete(main()) == [2, 3, 5, 7, 1024, 4]
    assert plain.__name__ == "plain"
    assert iscoroutinefunction(plain)  # asyncio's test on this Python (warns from 3.14)


def test_async_to_sync_wrapper_forms(impl) -> None:
    a2s = impl.async_to_sync

    @a2s
    async def plain(x: int) -> int:
        return x * 2

    @a2s(force_new_loop=True)
    async def configured(x: int) -> int:
        return x * 3

    class Thing(Counter):
        @a2s
        async def method(self, n: int) -> int:
            return await self.aadd(n)

    async def power(base: int, exp: int) -> int:
        return base**exp

    thing = Thing()
    counter = Counter()

    def calls() -> list[int]:
        return [
            plain(1),
            configured(1),
            thing.method(5),
            a2s(counter.aadd)(7),
            a2s(functools.partial(power, 2))(10),
        ]

    assert _in_thread(calls) == [2, 3, 5, 7, 1024]


def test_sync_to_async_refuses_coroutine_functions(impl) -> None:
    async def coro() -> None:
        pass

    with pytest.raises(TypeError):
        impl.sync_to_async(coro)


def test_executor_requires_thread_sensitive_false(impl) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as executor:
        with pytest.raises(TypeError):
            impl.sync_to_async(len, executor=executor)
        wrapped = impl.sync_to_async(threading.current_thread, thread_sensitive=False,
                                     executor=executor)
        ran_in = asyncio.run(wrapped())
        assert ran_in is not threading.current_thread()
