"""``subprocess.Popen`` off the loop thread.

``Popen`` forks (for a large parent, copying its page tables, with the GIL held when a
``preexec_fn`` must run in the child), runs ``preexec_fn``, then blocks reading a pipe
until the child has exec'd. A loop's ``Spawner`` does that on threads of its own; the
loop thread only awaits the result.

Its threads start with ``_thread.start_new_thread``: ``threading.Thread.start`` waits for
the new thread to take the GIL, which a forking spawner may hold for tens of ms. They
live until the loop closes, so the loop thread never waits for one to come or go.
"""

from __future__ import annotations

import _thread
import os
import queue
import subprocess
import threading

# At most this many spawns run at once (vfork releases the GIL from 3.12, so they overlap).
MAX_THREADS = min(8, (os.cpu_count() or 1) + 2)


def discard(proc: subprocess.Popen | None) -> None:
    """Kill and reap a child nobody will own and close our ends of its pipes. Blocks."""
    if proc is None:
        return
    try:
        proc.kill()
    except ProcessLookupError:
        pass
    proc.wait()
    for pipe in (proc.stdin, proc.stdout, proc.stderr):
        if pipe is not None:
            pipe.close()


def discard_off_loop(proc: subprocess.Popen | None) -> None:
    if proc is not None:
        _thread.start_new_thread(discard, (proc,))


class Spawn:
    """One ``Popen`` in flight. ``lock`` orders the spawner's hand-over against the
    loop giving up (a cancelled task, the loop closing): whichever side comes second
    finds the other's mark and owns the child."""

    __slots__ = ("future", "args", "kwargs", "lock", "proc", "error", "abandoned")

    def __init__(self, future, args, kwargs) -> None:
        self.future = future
        self.args, self.kwargs = args, kwargs
        self.lock = threading.Lock()
        self.proc: subprocess.Popen | None = None
        self.error: BaseException | None = None
        self.abandoned = False


class Spawner:
    """The spawn threads of one loop. Only the loop thread calls ``submit`` and
    ``done``; ``deliver(spawn)`` is called on the loop thread for each finished spawn
    that was not abandoned."""

    def __init__(self, loop, deliver) -> None:
        self._loop = loop
        self._deliver = deliver
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._threads = 0
        self._in_flight = 0  # submitted, not yet done(): a thread may still be on it

    def submit(self, spawn: Spawn) -> None:
        self._in_flight += 1
        if self._in_flight > self._threads and self._threads < MAX_THREADS:
            self._threads += 1
            _thread.start_new_thread(self._work, ())
        self._jobs.put(spawn)

    def done(self) -> None:
        self._in_flight -= 1

    def shutdown(self) -> None:
        """Threads finish the spawn they are on (abandoned: the child is discarded) and
        exit; queued spawns are skipped if abandoned."""
        for _ in range(self._threads):
            self._jobs.put(None)
        self._threads = 0

    def _work(self) -> None:
        while (spawn := self._jobs.get()) is not None:
            self._run(spawn)

    def _run(self, spawn: Spawn) -> None:
        if spawn.abandoned:
            return
        proc = error = None
        try:
            proc = subprocess.Popen(spawn.args, **spawn.kwargs)
        except BaseException as exc:  # noqa: BLE001 - raised again in the awaiting task
            error = exc
        with spawn.lock:
            abandoned = spawn.abandoned
            spawn.proc, spawn.error = proc, error
        if abandoned:
            discard(proc)
            return
        try:
            self._loop.call_soon_threadsafe(self._deliver, spawn)
        except RuntimeError:
            pass  # the loop closed since: its close() found spawn.proc and discarded it
