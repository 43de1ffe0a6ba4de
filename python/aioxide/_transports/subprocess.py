"""The subprocess transport: the stdlib's ``BaseSubprocessTransport`` (its pipes,
the exit bookkeeping) around a ``Popen`` made off the loop thread.
"""

from __future__ import annotations

from asyncio import base_subprocess


class SubprocessTransport(base_subprocess.BaseSubprocessTransport):
    def _start(self, args, shell, stdin, stdout, stderr, bufsize, popen=None):
        self._proc = popen  # spawned already, off the loop thread (SubprocessMixin._popen)
