"""Off-loop work: the default executor and DNS lookups, which run in it.

The default executor is a ``concurrent.futures.ThreadPoolExecutor`` created on first use,
as asyncio's; results come back through ``call_soon_threadsafe`` (``wrap_future``).
"""

from __future__ import annotations

import concurrent.futures
import socket
import threading
import warnings
from asyncio import futures, timeouts
from asyncio.log import logger


class ExecutorMixin:
    """Over the loop's ``_default_executor`` and ``_executor_shutdown_called``."""

    def _check_default_executor(self) -> None:
        if self._executor_shutdown_called:
            raise RuntimeError("Executor shutdown has been called")

    def run_in_executor(self, executor, func, *args):
        self._check_closed()
        if self.get_debug():
            self._check_callback(func, "run_in_executor")
        if executor is None:
            self._check_default_executor()
            executor = self._default_executor
            if executor is None:
                executor = concurrent.futures.ThreadPoolExecutor(thread_name_prefix="asyncio")
                self._default_executor = executor
        return futures.wrap_future(executor.submit(func, *args), loop=self)

    def set_default_executor(self, executor) -> None:
        if not isinstance(executor, concurrent.futures.ThreadPoolExecutor):
            raise TypeError("executor must be ThreadPoolExecutor instance")
        self._default_executor = executor

    async def shutdown_default_executor(self, timeout: float | None = None) -> None:
        """Shut the default executor down without blocking the loop: the join runs in
        a helper thread. With ``timeout`` (3.12's parameter), give up waiting after that
        many seconds with a RuntimeWarning."""
        self._executor_shutdown_called = True
        executor = self._default_executor
        if executor is None:
            return
        done = self.create_future()
        thread = threading.Thread(target=self._join_executor, args=(executor, done))
        thread.start()
        try:
            async with timeouts.timeout(timeout):
                await done
        except TimeoutError:
            warnings.warn(
                "The executor did not finishing joining its threads within "
                f"{timeout} seconds.",
                RuntimeWarning,
                stacklevel=2,
            )
            executor.shutdown(wait=False)
        else:
            thread.join()

    def _join_executor(self, executor, done) -> None:
        try:
            executor.shutdown(wait=True)
        except Exception as exc:
            if not self.is_closed() and not done.cancelled():
                self.call_soon_threadsafe(_set_exception_unless_done, done, exc)
        else:
            if not self.is_closed():
                self.call_soon_threadsafe(_set_result_unless_done, done, None)

    def _getaddrinfo_logged(self, host, port, family, type, proto, flags):
        parts = [f"{host}:{port!r}"]
        for label, value in (("family", family), ("type", type), ("proto", proto),
                             ("flags", flags)):
            if value:
                parts.append(f"{label}={value!r}")
        what = ", ".join(parts)
        logger.debug("Get address info %s", what)
        start = self.time()
        infos = socket.getaddrinfo(host, port, family, type, proto, flags)
        took = self.time() - start
        text = f"Getting address info {what} took {took * 1e3:.3f}ms: {infos!r}"
        if took >= self.slow_callback_duration:
            logger.info(text)
        else:
            logger.debug(text)
        return infos

    async def getaddrinfo(self, host, port, *, family=0, type=0, proto=0, flags=0):
        resolve = self._getaddrinfo_logged if self.get_debug() else socket.getaddrinfo
        return await self.run_in_executor(None, resolve, host, port, family, type, proto, flags)

    async def getnameinfo(self, sockaddr, flags=0):
        return await self.run_in_executor(None, socket.getnameinfo, sockaddr, flags)


def _set_result_unless_done(fut, result) -> None:
    if not fut.done():
        fut.set_result(result)


def _set_exception_unless_done(fut, exc) -> None:
    if not fut.done():
        fut.set_exception(exc)
