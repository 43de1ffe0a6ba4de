"""The threads aioxide.sync runs sync code in: small pools of named daemon threads.

``ThreadPool`` hands each piece of work straight to an idle thread, starts a new thread
when none is idle and the pool is below its bound, and otherwise queues the work until a
thread frees up. Work items are plain no-argument callables that handle their own
errors; nothing here creates futures, so a call costs a lock and a queue put.

Three pools exist, created on first use:

- ``shared_thread()``: one thread, the home of thread-sensitive calls made outside any
  ``async_to_sync``;
- ``worker_pool()``: bounded, for ``thread_sensitive=False`` calls without an executor;
- ``loop_pool()``: unbounded but caching a few idle threads, each running the fresh event
  loop of one ``async_to_sync`` call made from a plain thread (unbounded, so one such
  call can never wait behind another it depends on).
"""

from __future__ import annotations

import os
import sys
import threading
from collections import deque
from collections.abc import Callable
from queue import SimpleQueue

Work = Callable[[], object]


class ThreadPool:
    """Named daemon threads running submitted no-argument callables."""

    def __init__(self, name: str, max_workers: int | None, keep_idle: int) -> None:
        self._name = name
        self._max_workers = max_workers
        self._keep_idle = keep_idle
        self._lock = threading.Lock()
        self._idle: list[SimpleQueue[Work]] = []
        self._backlog: deque[Work] = deque()
        self._threads = 0
        self._started = 0
        self.threads: set[threading.Thread] = set()

    def submit(self, work: Work) -> None:
        with self._lock:
            if self._idle:
                self._idle.pop().put(work)
                return
            if self._max_workers is not None and self._threads >= self._max_workers:
                self._backlog.append(work)
                return
            self._threads += 1
            self._started += 1
            number = self._started
        thread = threading.Thread(
            target=self._worker, args=(work,), name=f"{self._name}-{number}", daemon=True
        )
        thread.start()

    def owns_current_thread(self) -> bool:
        return threading.current_thread() in self.threads

    def _worker(self, work: Work) -> None:
        me = threading.current_thread()
        self.threads.add(me)
        inbox: SimpleQueue[Work] = SimpleQueue()
        try:
            while True:
                deliver = None
                try:
                    # A work item with run() returns its hand-back, made once this
                    # thread is idle again, so the caller's next item finds it idle.
                    run = getattr(work, "run", None)
                    if run is None:
                        work()
                    else:
                        deliver = run()
                except BaseException:  # work items report their own errors
                    sys.excepthook(*sys.exc_info())
                del work
                with self._lock:
                    work = self._backlog.popleft() if self._backlog else None
                    leaving = work is None and len(self._idle) >= self._keep_idle
                    if leaving:
                        self._threads -= 1
                    elif work is None:
                        self._idle.append(inbox)
                if deliver is not None:
                    deliver()
                del deliver
                if leaving:
                    return
                if work is None:
                    work = inbox.get()
        finally:
            self.threads.discard(me)


_pools: dict[str, ThreadPool] = {}
_pools_lock = threading.Lock()


def _pool(name: str, max_workers: int | None, keep_idle: int) -> ThreadPool:
    pool = _pools.get(name)
    if pool is None:
        with _pools_lock:
            pool = _pools.get(name)
            if pool is None:
                pool = _pools[name] = ThreadPool(name, max_workers, keep_idle)
    return pool


def shared_thread() -> ThreadPool:
    """The single thread of thread-sensitive calls made outside any async_to_sync."""
    return _pool("aioxide-sync-shared", 1, 1)


def worker_pool() -> ThreadPool:
    """The bounded pool of ``thread_sensitive=False`` calls (asyncio's default size)."""
    size = min(32, (os.cpu_count() or 1) + 4)
    return _pool("aioxide-sync-worker", size, size)


def loop_pool() -> ThreadPool:
    """Threads running the event loops of async_to_sync calls from plain threads."""
    return _pool("aioxide-sync-loop", None, 4)


def _reset_after_fork() -> None:
    # Threads do not survive fork: a child starts with empty pools.
    global _pools_lock
    _pools.clear()
    _pools_lock = threading.Lock()


os.register_at_fork(after_in_child=_reset_after_fork)
