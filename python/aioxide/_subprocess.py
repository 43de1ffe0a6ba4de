"""``subprocess_exec`` / ``subprocess_shell``.

The child is spawned by ``subprocess.Popen`` (so every option asyncio accepts, from
``preexec_fn`` to ``pass_fds``, behaves the same), its pipes are the loop's pipe
transports, and the stdlib's ``BaseSubprocessTransport`` does the bookkeeping that
``asyncio.subprocess.Process`` relies on. Its exit is noticed through a pidfd watched
like any descriptor (no ``SIGCHLD`` handler, so nothing is taken from other code); where
pidfds are missing, a thread waits for that one child.

``Popen`` runs off the loop thread (``_spawner.py``).
"""

from __future__ import annotations

import contextlib
import functools
import os
import subprocess
import threading
import weakref
from asyncio import events
from asyncio.log import logger

from . import _versions
from ._aioxide import close_fd, reap_exited
from ._spawner import Spawn, Spawner, discard_off_loop
from ._transports.subprocess import SubprocessTransport


def _reap(pid: int) -> int:
    """Wait for ``pid``; its returncode (negative: killed by that signal)."""
    try:
        _, status = os.waitpid(pid, 0)
    except ChildProcessError:
        return _reaped_elsewhere(pid)
    return os.waitstatus_to_exitcode(status)


def _reaped_elsewhere(pid: int) -> int:
    """Someone else (a SIGCHLD handler that reaps everything) collected ``pid`` first:
    asyncio's warning, and returncode 255."""
    logger.warning("child process pid %d exit status already read: "
                   " will report returncode 255", pid)
    return 255


def _explicit_child_watcher():
    """Before 3.14, a child watcher the application chose (``asyncio.set_child_watcher``),
    or None. asyncio hands such a watcher every child, and so does aioxide: one that reaps
    every child (``FastChildWatcher``) would otherwise take ours from under the pidfd.
    The kinds asyncio creates on its own when asked (threaded, pidfd) are left out: they
    watch one child each, as aioxide's pidfds do."""
    if not _versions.CHILD_WATCHERS:
        return None
    watcher = getattr(events.get_event_loop_policy(), "_watcher", None)
    return None if watcher is None or isinstance(watcher, _implicit_watchers()) else watcher


@functools.cache
def _implicit_watchers() -> tuple:
    from asyncio import unix_events

    return tuple(getattr(unix_events, name) for name in
                 ("ThreadedChildWatcher", "PidfdChildWatcher") if hasattr(unix_events, name))


def _check_subprocess_args(universal_newlines, bufsize, encoding, errors, text) -> None:
    if universal_newlines:
        raise ValueError("universal_newlines must be False")
    if bufsize != 0:
        raise ValueError("bufsize must be 0")
    if text:
        raise ValueError("text must be False")
    if encoding is not None:
        raise ValueError("encoding must be None")
    if errors is not None:
        raise ValueError("errors must be None")


class SubprocessMixin:
    """The loop's subprocess API, over its ``Children``."""

    async def subprocess_shell(self, protocol_factory, cmd, *, stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               universal_newlines=False, shell=True, bufsize=0,
                               encoding=None, errors=None, text=None, **kwargs):
        """Run ``cmd`` through the shell; returns ``(transport, protocol)``."""
        if not isinstance(cmd, (bytes, str)):
            raise ValueError("cmd must be a string")
        if not shell:
            raise ValueError("shell must be True")
        _check_subprocess_args(universal_newlines, bufsize, encoding, errors, text)
        protocol = protocol_factory()
        transport = await self._make_subprocess_transport(protocol, cmd, True, stdin, stdout,
                                                          stderr, bufsize, **kwargs)
        return transport, protocol

    async def subprocess_exec(self, protocol_factory, program, *args,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, universal_newlines=False, shell=False,
                              bufsize=0, encoding=None, errors=None, text=None, **kwargs):
        """Run ``program`` with ``args``; returns ``(transport, protocol)``."""
        if shell:
            raise ValueError("shell must be False")
        _check_subprocess_args(universal_newlines, bufsize, encoding, errors, text)
        protocol = protocol_factory()
        transport = await self._make_subprocess_transport(
            protocol, (program,) + args, False, stdin, stdout, stderr, bufsize, **kwargs)
        return transport, protocol

    async def _make_subprocess_transport(self, protocol, args, shell, stdin, stdout, stderr,
                                         bufsize, extra=None, **kwargs):
        watcher = _explicit_child_watcher()
        with watcher if watcher is not None else contextlib.nullcontext() as entered:
            if watcher is not None and _versions.CHILD_WATCHER_FROM_ENTER:
                watcher = entered
            if watcher is not None and not watcher.is_active():
                raise RuntimeError("asyncio.get_child_watcher() is not activated, "
                                   "subprocess support is not installed.")
            proc = await self._children.popen(args, dict(
                shell=shell, stdin=stdin, stdout=stdout, stderr=stderr,
                universal_newlines=False, bufsize=bufsize, **kwargs))
            waiter = self.create_future()
            try:
                transport = SubprocessTransport(self, protocol, args, shell, stdin, stdout,
                                                stderr, bufsize, waiter=waiter, extra=extra,
                                                popen=proc)
            except BaseException:
                discard_off_loop(proc)
                raise
            if watcher is None:
                self._children.watch(transport.get_pid(), transport)
            else:
                watcher.add_child_handler(proc.pid, self._children.saw_exit, transport)
            try:
                await waiter
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException:
                transport.close()
                await transport._wait()
                raise
        return transport


class Children:
    """The loop's child processes (``loop._children``): spawns in flight on the spawner
    threads, and children whose exit is awaited through a pidfd."""

    def __init__(self, loop) -> None:
        self._loop_ref = weakref.ref(loop)  # the loop owns this: no cycle through it
        self._spawner: Spawner | None = None  # made on the first spawn
        self._spawns: set[Spawn] = set()  # handed to the spawner, not yet taken back
        self._pidfds: dict[int, int] = {}  # pidfd -> pid of a child still running

    def _loop(self):
        return self._loop_ref()

    # -- spawning off the loop thread --------------------------------------------------

    async def popen(self, args, kwargs) -> subprocess.Popen:
        """``subprocess.Popen(args, **kwargs)`` on a spawner thread. Cancelled, the child
        is killed and reaped once it exists, and its pipes are closed."""
        loop = self._loop()
        loop._check_closed()
        spawn = Spawn(loop.create_future(), args, kwargs)
        if self._spawner is None:
            self._spawner = Spawner(loop, self._spawned)
        self._spawns.add(spawn)
        self._spawner.submit(spawn)
        try:
            return await spawn.future
        except BaseException:
            if spawn.future.cancelled() or not spawn.future.done():
                self._abandon(spawn)
            raise

    def _forget(self, spawn: Spawn) -> None:
        if spawn in self._spawns:
            self._spawns.remove(spawn)
            self._spawner.done()

    def _abandon(self, spawn: Spawn) -> None:
        """Nobody will take this spawn's child: it is killed and reaped (and its pipes
        closed) now if it exists, else by the spawner thread when ``Popen`` returns."""
        self._forget(spawn)
        with spawn.lock:
            spawn.abandoned = True
            proc, spawn.proc = spawn.proc, None
        discard_off_loop(proc)

    def _spawned(self, spawn: Spawn) -> None:
        future = spawn.future
        if spawn.abandoned or future.cancelled():
            return  # _abandon() has taken the child, or will when the cancelled task resumes
        self._forget(spawn)
        proc, error, spawn.error = spawn.proc, spawn.error, None  # drop the traceback's frame
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(proc)

    # -- noticing the exit -------------------------------------------------------------

    def saw_exit(self, pid: int, returncode: int, transport) -> None:
        """A child watcher's or a waiting thread's report (from another thread)."""
        loop = self._loop()
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(transport._process_exited, returncode)

    def watch(self, pid: int, transport) -> None:
        try:
            pidfd = os.pidfd_open(pid)
        except (AttributeError, OSError):
            threading.Thread(target=self._wait_thread, args=(pid, transport),
                             name=f"aioxide-waitpid-{pid}", daemon=True).start()
            return
        self._pidfds[pidfd] = pid
        self._loop()._add_reader(pidfd, self._exited, pidfd, transport)

    def _exited(self, pidfd: int, transport) -> None:
        # Native calls that keep the GIL (see aioxide-core's sys/process.rs).
        pid = self._pidfds.pop(pidfd)
        self._loop()._remove_reader(pidfd)
        try:
            returncode = reap_exited(pidfd, pid)  # its pidfd is readable: it has exited
        except ChildProcessError:
            returncode = _reaped_elsewhere(pid)
        finally:
            close_fd(pidfd)  # after the wait, which names the child by it
        transport._process_exited(returncode)

    def _wait_thread(self, pid: int, transport) -> None:
        self.saw_exit(pid, _reap(pid), transport)

    def close(self) -> None:
        """On loop close: a spawn still in flight is killed and reaped when it lands. A
        child still running is left alone, but a thread reaps it when it exits (no
        zombie), with asyncio's warning."""
        for spawn in list(self._spawns):
            self._abandon(spawn)
        if self._spawner is not None:
            self._spawner.shutdown()
            self._spawner = None
        table, self._pidfds = self._pidfds, {}
        for pidfd, pid in table.items():
            self._loop()._remove_reader(pidfd)
            os.close(pidfd)
            threading.Thread(target=_reap_orphan, args=(pid, repr(self._loop())),
                             name=f"aioxide-waitpid-{pid}", daemon=True).start()


def _reap_orphan(pid: int, loop_repr: str) -> None:
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        return  # collected by someone else
    logger.warning("Loop %s that handles pid %r is closed", loop_repr, pid)
