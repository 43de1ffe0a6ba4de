"""``subprocess_exec`` / ``subprocess_shell``.

The child is spawned by ``subprocess.Popen`` (so every option asyncio accepts, from
``preexec_fn`` to ``pass_fds``, behaves the same), its pipes are the loop's pipe
transports, and the stdlib's ``BaseSubprocessTransport`` does the bookkeeping that
``asyncio.subprocess.Process`` relies on. Its exit is noticed through a pidfd watched
like any descriptor (no ``SIGCHLD`` handler, so nothing is taken from other code); where
pidfds are missing, a thread waits for that one child.
"""

from __future__ import annotations

import os
import subprocess
import threading
from asyncio import base_subprocess
from asyncio.log import logger


def _reap(pid: int) -> int:
    """Wait for ``pid``; its returncode (negative: killed by that signal)."""
    try:
        _, status = os.waitpid(pid, 0)
    except ChildProcessError:
        # Someone else (a SIGCHLD handler that reaps everything) collected it first.
        logger.warning("child process pid %d exit status already read: "
                       " will report returncode 255", pid)
        return 255
    return os.waitstatus_to_exitcode(status)


class SubprocessTransport(base_subprocess.BaseSubprocessTransport):
    def _start(self, args, shell, stdin, stdout, stderr, bufsize, **kwargs):
        self._proc = subprocess.Popen(args, shell=shell, stdin=stdin, stdout=stdout,
                                      stderr=stderr, universal_newlines=False,
                                      bufsize=bufsize, **kwargs)


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
        waiter = self.create_future()
        transport = SubprocessTransport(self, protocol, args, shell, stdin, stdout, stderr,
                                        bufsize, waiter=waiter, extra=extra, **kwargs)
        self._watch_child(transport.get_pid(), transport)
        try:
            await waiter
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException:
            transport.close()
            await transport._wait()
            raise
        return transport

    # -- noticing the exit -------------------------------------------------------------

    @property
    def _child_pidfds(self) -> dict:
        table = self.__dict__.get("_child_pidfd_table")
        if table is None:
            table = self.__dict__["_child_pidfd_table"] = {}
        return table

    def _watch_child(self, pid: int, transport) -> None:
        try:
            pidfd = os.pidfd_open(pid)
        except (AttributeError, OSError):
            threading.Thread(target=self._wait_child_thread, args=(pid, transport),
                             name=f"aioxide-waitpid-{pid}", daemon=True).start()
            return
        self._child_pidfds[pidfd] = pid
        self._add_reader(pidfd, self._child_exited, pidfd, transport)

    def _child_exited(self, pidfd: int, transport) -> None:
        pid = self._child_pidfds.pop(pidfd)
        self._remove_reader(pidfd)
        os.close(pidfd)
        transport._process_exited(_reap(pid))

    def _wait_child_thread(self, pid: int, transport) -> None:
        returncode = _reap(pid)
        if not self.is_closed():
            self.call_soon_threadsafe(transport._process_exited, returncode)

    def _close_children(self) -> None:
        """On loop close: stop watching. A child still running is left alone, but a thread
        reaps it when it exits (no zombie), with asyncio's warning."""
        table = self.__dict__.pop("_child_pidfd_table", None) or {}
        for pidfd, pid in table.items():
            self._remove_reader(pidfd)
            os.close(pidfd)
            threading.Thread(target=self._reap_orphan, args=(pid,),
                             name=f"aioxide-waitpid-{pid}", daemon=True).start()

    def _reap_orphan(self, pid: int) -> None:
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            return  # collected by someone else
        logger.warning("Loop %r that handles pid %r is closed", self, pid)
