"""Ways in (asyncio.Runner, aioxide.run, install, the policy) and interrupting a run."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import threading
import time
import warnings

import aioxide
import pytest


async def answer(value=42):
    await asyncio.sleep(0)
    return value


async def fail(exc):
    await asyncio.sleep(0)
    raise exc


# -- signals -------------------------------------------------------------------------------


def signal_main_thread_later(signum, after: threading.Event):
    """From another thread, send ``signum`` to the main thread once ``after`` is set."""

    def send():
        after.wait(5)
        time.sleep(0.05)  # let the loop fall asleep in the poller; holds either way
        signal.pthread_kill(threading.main_thread().ident, signum)

    thread = threading.Thread(target=send)
    thread.start()
    return thread


@pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread(),
    reason="signal handlers run in the main thread",
)
def test_signal_handler_exception_interrupts_an_idle_loop(loop):
    def handler(signum, frame):
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGUSR1, handler)
    try:
        started = threading.Event()
        loop.call_soon(started.set)
        safety = loop.call_later(5, loop.stop)
        thread = signal_main_thread_later(signal.SIGUSR1, started)
        start = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            loop.run_forever()
        elapsed = time.monotonic() - start
        thread.join()
        safety.cancel()
    finally:
        signal.signal(signal.SIGUSR1, old)
    assert elapsed < 2
    assert not loop.is_running()
    assert loop.run_until_complete(answer(3)) == 3


@pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread(),
    reason="signal handlers run in the main thread",
)
def test_sigint_interrupts_asyncio_runner(loop_factory):
    started = threading.Event()
    cancelled = []

    async def main():
        started.set()
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    old = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        thread = signal_main_thread_later(signal.SIGINT, started)
        start = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            with asyncio.Runner(loop_factory=loop_factory) as runner:
                runner.run(main())
        elapsed = time.monotonic() - start
        thread.join()
    finally:
        signal.signal(signal.SIGINT, old)
    assert cancelled == [True]
    assert elapsed < 2


# -- the ways in ---------------------------------------------------------------------------


def test_asyncio_runner_with_loop_factory(loop_factory):
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        assert runner.run(answer(3)) == 3

        async def which():
            return asyncio.get_running_loop()

        inner = runner.run(which())
        assert inner is runner.get_loop()
        if loop_factory is aioxide.new_event_loop:
            assert isinstance(inner, aioxide.Loop)
    assert inner.is_closed()


def test_asyncio_runner_cancels_leftover_tasks(loop_factory):
    cancelled = []

    async def forever():
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    async def main():
        asyncio.create_task(forever())
        await asyncio.sleep(0)

    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(main())
    assert cancelled == [True]


def test_aioxide_run_returns_the_result():
    # aioxide-specific entry point.
    async def main():
        return type(asyncio.get_running_loop()), await answer(9)

    loop_type, value = aioxide.run(main())
    assert value == 9
    assert issubclass(loop_type, aioxide.Loop)


def test_aioxide_run_propagates_the_exception():
    # aioxide-specific entry point.
    with pytest.raises(ZeroDivisionError):
        aioxide.run(fail(ZeroDivisionError()))


def test_aioxide_run_debug_flag():
    # aioxide-specific entry point.
    async def debug():
        return asyncio.get_running_loop().get_debug()

    assert aioxide.run(debug(), debug=True) is True
    assert aioxide.run(debug(), debug=False) is False


def test_aioxide_run_inside_a_running_loop_raises(loop):
    # aioxide.run itself is aioxide-specific; the outer loop may be either.
    async def main():
        coro = answer()
        try:
            with pytest.raises(RuntimeError, match="cannot be called from a running event loop"):
                aioxide.run(coro)
        finally:
            coro.close()

    loop.run_until_complete(main())


def test_aioxide_loop_is_an_abstract_event_loop(aioxide_loop):
    # aioxide-specific: the type of the loop.
    assert isinstance(aioxide_loop, aioxide.Loop)
    assert isinstance(aioxide_loop, asyncio.AbstractEventLoop)
    assert not isinstance(aioxide_loop, asyncio.BaseEventLoop)


def test_install_sets_the_policy():
    # aioxide-specific; run in a subprocess so the policy of this process is untouched.
    code = (
        "import asyncio, aioxide, warnings\n"
        "warnings.simplefilter('ignore', DeprecationWarning)\n"
        "assert not isinstance(asyncio.get_event_loop_policy(), aioxide.EventLoopPolicy)\n"
        "aioxide.install()\n"
        "assert isinstance(asyncio.get_event_loop_policy(), aioxide.EventLoopPolicy)\n"
        "async def main():\n"
        "    return type(asyncio.get_running_loop()).__name__\n"
        "print(asyncio.run(main()))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True
    )
    assert out.stdout.strip() == "Loop"


def test_import_changes_nothing_in_asyncio():
    # aioxide-specific; a fresh interpreter, so that the import really happens there.
    code = (
        "import asyncio\n"
        "policy = asyncio.get_event_loop_policy()\n"
        "before = {name: getattr(asyncio, name) for name in dir(asyncio)}\n"
        "import aioxide\n"
        "after = {name: getattr(asyncio, name) for name in dir(asyncio)}\n"
        "assert before == after, set(before.items()) ^ set(after.items())\n"
        "assert asyncio.get_event_loop_policy() is policy\n"
        "loop = asyncio.new_event_loop()\n"
        "assert not isinstance(loop, aioxide.Loop), loop\n"
        "loop.close()\n"
        "print('ok')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_import_and_run_are_clean_under_w_error():
    # aioxide-specific: no deprecated name is touched by the import or by aioxide.run,
    # on any version (3.14 deprecates the policy API aioxide.EventLoopPolicy builds on).
    code = (
        "import asyncio, aioxide\n"
        "async def main():\n"
        "    await asyncio.sleep(0)\n"
        "    return type(asyncio.get_running_loop()).__name__\n"
        "print(aioxide.run(main()))\n"
    )
    out = subprocess.run([sys.executable, "-W", "error", "-c", code],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "Loop"


def test_policy_names_warn_as_asyncio_does():
    # aioxide.EventLoopPolicy and install() warn exactly where asyncio's policy API does
    # (3.14+), with the caller's line.
    with warnings.catch_warnings(record=True) as stdlib:
        warnings.simplefilter("always")
        asyncio.DefaultEventLoopPolicy  # noqa: B018
    with warnings.catch_warnings(record=True) as ours:
        warnings.simplefilter("always")
        aioxide.EventLoopPolicy  # noqa: B018
    assert [w.category for w in ours] == [w.category for w in stdlib]
    if stdlib:
        assert str(ours[0].message) == str(stdlib[0].message).replace(
            "asyncio.DefaultEventLoopPolicy", "aioxide.EventLoopPolicy")
        assert ours[0].filename == __file__


def test_event_loop_policy_creates_aioxide_loops():
    # aioxide-specific.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # 3.14+: the policy API
        policy = aioxide.EventLoopPolicy()
    loop = policy.new_event_loop()
    try:
        assert isinstance(loop, aioxide.Loop)
    finally:
        loop.close()
