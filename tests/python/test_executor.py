"""run_in_executor, the default executor, getaddrinfo and getnameinfo."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import socket
import threading

import pytest


def whoami(*args):
    return threading.current_thread().name, threading.get_ident(), args


def raise_value_error():
    raise ValueError("in executor")


def test_run_in_executor_default(loop):
    name, ident, args = loop.run_until_complete(loop.run_in_executor(None, whoami, 1, "a"))
    assert ident != threading.get_ident()
    assert args == (1, "a")
    assert name.startswith("asyncio")


def test_run_in_executor_returns_an_asyncio_future(loop):
    async def main():
        fut = loop.run_in_executor(None, whoami)
        assert isinstance(fut, asyncio.Future)
        assert fut.get_loop() is loop
        return await fut

    loop.run_until_complete(main())


def test_run_in_executor_propagates_the_exception(loop):
    with pytest.raises(ValueError, match="in executor"):
        loop.run_until_complete(loop.run_in_executor(None, raise_value_error))


def test_run_in_executor_custom_executor(loop):
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="custom-pool") as pool:
        name, _, _ = loop.run_until_complete(loop.run_in_executor(pool, whoami))
    assert name.startswith("custom-pool")


def test_run_in_executor_many_concurrent_calls(loop):
    barrier = threading.Barrier(3, timeout=5)

    def meet(i):
        barrier.wait()
        return i

    async def main():
        return await asyncio.gather(*(loop.run_in_executor(None, meet, i) for i in range(3)))

    assert loop.run_until_complete(main()) == [0, 1, 2]


def test_set_default_executor(loop):
    pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="my-default")
    try:
        loop.set_default_executor(pool)
        name, _, _ = loop.run_until_complete(loop.run_in_executor(None, whoami))
        assert name.startswith("my-default")
    finally:
        loop.run_until_complete(loop.shutdown_default_executor())
    # shutdown_default_executor shut our pool down.
    with pytest.raises(RuntimeError):
        pool.submit(whoami)


def test_set_default_executor_rejects_other_executors(loop):
    class NotAThreadPool(concurrent.futures.Executor):
        pass

    with pytest.raises(TypeError, match="executor must be ThreadPoolExecutor instance"):
        loop.set_default_executor(NotAThreadPool())


def test_run_in_executor_after_shutdown_default_executor(loop):
    loop.run_until_complete(loop.run_in_executor(None, whoami))
    loop.run_until_complete(loop.shutdown_default_executor())
    with pytest.raises(RuntimeError, match="Executor shutdown has been called"):
        loop.run_in_executor(None, whoami)


def test_shutdown_default_executor_without_executor(loop):
    loop.run_until_complete(loop.shutdown_default_executor())
    with pytest.raises(RuntimeError, match="Executor shutdown has been called"):
        loop.run_in_executor(None, whoami)


def test_shutdown_default_executor_waits_for_running_work(loop):
    started = threading.Event()
    release = threading.Event()
    finished = []

    def work():
        started.set()
        release.wait(5)
        finished.append(True)

    async def main():
        fut = loop.run_in_executor(None, work)
        await loop.run_in_executor(None, started.wait, 5)
        loop.call_later(0.02, release.set)
        await loop.shutdown_default_executor()
        assert finished == [True]
        await fut

    loop.run_until_complete(main())


def test_custom_executor_still_usable_after_default_shutdown(loop):
    loop.run_until_complete(loop.shutdown_default_executor())
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        _, _, args = loop.run_until_complete(loop.run_in_executor(pool, whoami, 5))
    assert args == (5,)


def test_to_thread_carries_the_context(loop):
    var = contextvars.ContextVar("var")

    async def main():
        var.set("from-task")
        return await asyncio.to_thread(lambda: (var.get(), threading.get_ident()))

    value, ident = loop.run_until_complete(main())
    assert value == "from-task"
    assert ident != threading.get_ident()


def test_getaddrinfo(loop):
    infos = loop.run_until_complete(loop.getaddrinfo("127.0.0.1", 80))
    assert infos == socket.getaddrinfo("127.0.0.1", 80)
    assert infos
    for family, _type, _proto, _canonname, sockaddr in infos:
        assert family == socket.AF_INET
        assert sockaddr == ("127.0.0.1", 80)


def test_getaddrinfo_with_filters(loop):
    infos = loop.run_until_complete(
        loop.getaddrinfo("127.0.0.1", 8080, family=socket.AF_INET, type=socket.SOCK_STREAM)
    )
    assert infos == socket.getaddrinfo(
        "127.0.0.1", 8080, socket.AF_INET, socket.SOCK_STREAM
    )
    assert [info[1] for info in infos] == [socket.SOCK_STREAM]


def test_getaddrinfo_error(loop):
    with pytest.raises(socket.gaierror):
        loop.run_until_complete(
            loop.getaddrinfo("not a host name", 80, flags=socket.AI_NUMERICHOST)
        )


def test_getaddrinfo_in_debug_mode(loop):
    loop.set_debug(True)
    infos = loop.run_until_complete(loop.getaddrinfo("127.0.0.1", 80, type=socket.SOCK_DGRAM))
    assert infos == socket.getaddrinfo("127.0.0.1", 80, type=socket.SOCK_DGRAM)


def test_getnameinfo(loop):
    flags = socket.NI_NUMERICHOST | socket.NI_NUMERICSERV
    result = loop.run_until_complete(loop.getnameinfo(("127.0.0.1", 80), flags))
    assert result == ("127.0.0.1", "80")
