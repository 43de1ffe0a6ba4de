"""The blocking watchdog: a thread that notices when a callback holds the loop for
longer than a threshold and records the loop thread's Python stack *while it is blocked*.

The loop publishes, while a watchdog is attached, a progress counter and the handle of
the running callback (``crates/aioxide-py/src/debug.rs``); the watchdog samples them a
few times per threshold, natively and without the GIL, and times each progress value
itself (so the loop reads no clock per callback; durations are exact to one sampling
tick, a quarter of the threshold).
When the same callback has run for longer than the threshold it captures
``sys._current_frames()[loop thread]``, the current task and the handle; when the loop
moves on it logs one WARNING record on the ``aioxide.debug`` logger with that stack and
the total time blocked. Stalls at the same line are reported at most once per
``repeat_interval`` seconds (the next record counts the ones skipped).

Limitation: the stack is taken when the watchdog thread gets the GIL; a C extension that
blocks while holding the GIL delays the capture until it returns.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
import traceback
import weakref
from dataclasses import dataclass, field

logger = logging.getLogger("aioxide.debug")


@dataclass
class Stall:
    """One blocked period, as captured while it lasted."""

    started: float
    progress: int
    stack: traceback.StackSummary
    task: asyncio.Task | None
    handle: str
    site: tuple[str, int] = field(init=False)

    def __post_init__(self) -> None:
        last = self.stack[-1] if self.stack else None
        self.site = (last.filename, last.lineno or 0) if last else ("?", 0)


def _describe_task(task: asyncio.Task | None) -> str:
    if task is None:
        return "none (a plain callback)"
    return f"{task.get_name()!r} running {task.get_coro()!r}"


class Watchdog:
    """Watches one aioxide loop. ``start()`` attaches it, ``stop()`` detaches it; the
    loop stops its watchdog when it closes."""

    def __init__(self, loop, threshold: float = 0.1, *, repeat_interval: float = 60.0):
        if not threshold > 0:
            raise ValueError(f"threshold must be a positive number of seconds, got {threshold!r}")
        # The thread reads the loop through a probe and a weak reference: a watched loop
        # dropped unclosed is still freed (warning as unclosed), which ends the thread.
        self._loop = weakref.ref(loop)
        self._probe = loop._probe()
        self.threshold = float(threshold)
        self.repeat_interval = repeat_interval
        self.reports = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_report: dict[tuple[str, int], float] = {}
        self._skipped: dict[tuple[str, int], int] = {}

    @property
    def loop(self):
        """The watched loop, or ``None`` once it is gone."""
        return self._loop()

    def start(self) -> Watchdog:
        if self._thread is None:
            self._probe.attach(True)
            self._thread = threading.Thread(
                target=self._run, name="aioxide-watchdog", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._probe.attach(False)  # ends the thread's native waits
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)
        self._probe.attach(False)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def __enter__(self) -> Watchdog:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- the thread ----------------------------------------------------------------------

    def _run(self) -> None:
        tick = min(max(self.threshold / 4, 0.002), 0.05)
        while not self._stop.is_set():
            # Both waits run natively with the GIL released: a healthy loop never has to
            # hand the GIL to this thread.
            found = self._probe.wait_for_stall(self.threshold, tick)
            if found is None:
                return
            progress, since = found
            stall = self._capture(progress, since)
            ended = self._probe.wait_until_moved(progress, tick)
            if stall is not None:
                self._report(stall, ended)

    def _capture(self, progress: int, started: float) -> Stall | None:
        loop = self._loop()
        thread_id = getattr(loop, "_thread_id", None)
        frame = sys._current_frames().get(thread_id) if thread_id is not None else None
        if frame is None:
            return None
        stack = traceback.extract_stack(frame)
        try:
            task = asyncio.current_task(loop)
        except RuntimeError:
            task = None
        handle = loop._probe_current(progress)
        return Stall(started, progress, stack, task, repr(handle) if handle else "?")

    def _report(self, stall: Stall, ended: float) -> None:
        blocked = ended - stall.started
        now = time.monotonic()
        last = self._last_report.get(stall.site)
        if last is not None and now - last < self.repeat_interval:
            self._skipped[stall.site] = self._skipped.get(stall.site, 0) + 1
            return
        self._last_report[stall.site] = now
        skipped = self._skipped.pop(stall.site, 0)
        self.reports += 1
        lines = [
            f"event loop blocked for {blocked:.3f} s (watchdog threshold "
            f"{self.threshold:.3f} s) at {stall.site[0]}:{stall.site[1]}",
            f"task: {_describe_task(stall.task)}",
            f"handle: {stall.handle}",
        ]
        if skipped:
            lines.append(f"({skipped} earlier stalls at this line were not reported)")
        lines.append("stack of the loop thread while it was blocked (most recent call last):")
        lines.append("".join(stall.stack.format()).rstrip())
        logger.warning(
            "\n".join(lines),
            extra={
                "aioxide_blocked": blocked,
                "aioxide_stack": stall.stack,
                "aioxide_task": stall.task,
                "aioxide_site": stall.site,
            },
        )
