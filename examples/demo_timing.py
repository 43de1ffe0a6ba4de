"""The demo's closing timing table: a quick in-process look, not the benchmark suite.

Two small workloads, best of 3, each run on a fresh loop of every kind (stdlib asyncio,
uvloop when installed, aioxide). ``make bench`` does the careful version (fresh
subprocesses, medians, more workloads).
"""

from __future__ import annotations

import asyncio
import time
from typing import Callable

import aioxide

CALLBACKS = 200_000
TASKS = 20_000
SLEEPS_PER_TASK = 5
ROUNDS = 3


def _loop_factories() -> dict[str, Callable[[], asyncio.AbstractEventLoop]]:
    factories = {"asyncio": asyncio.new_event_loop}
    try:
        import uvloop
    except ImportError:
        pass
    else:
        factories["uvloop"] = uvloop.new_event_loop
    factories["aioxide"] = aioxide.new_event_loop
    return factories


def _callbacks(loop: asyncio.AbstractEventLoop) -> None:
    left = CALLBACKS

    def tick() -> None:
        nonlocal left
        left -= 1
        if left:
            loop.call_soon(tick)
        else:
            loop.stop()

    loop.call_soon(tick)
    loop.run_forever()


async def _sleeper() -> None:
    for _ in range(SLEEPS_PER_TASK):
        await asyncio.sleep(0)


async def _sleep0_tasks() -> None:
    await asyncio.gather(*[_sleeper() for _ in range(TASKS)])


def _tasks(loop: asyncio.AbstractEventLoop) -> None:
    loop.run_until_complete(_sleep0_tasks())


WORKLOADS = [
    (f"{CALLBACKS // 1000}k call_soon callbacks (one chain)", _callbacks),
    (f"{TASKS // 1000}k tasks x {SLEEPS_PER_TASK} sleep(0), one gather", _tasks),
]


def _best_of(factory, workload) -> float:
    best = float("inf")
    for _ in range(ROUNDS):
        loop = factory()
        try:
            start = time.perf_counter()
            workload(loop)
            best = min(best, time.perf_counter() - start)
        finally:
            loop.close()
    return best


def timing_table() -> str:
    factories = _loop_factories()
    names = list(factories)
    header = f"{'timing, best of ' + str(ROUNDS) + ' (seconds)':<42}"
    header += "".join(f"{name:>10}" for name in names) + "   aioxide vs asyncio"
    lines = [header, "-" * len(header)]
    for label, workload in WORKLOADS:
        times = {name: _best_of(factory, workload) for name, factory in factories.items()}
        speedup = times["asyncio"] / times["aioxide"]
        row = f"{label:<42}" + "".join(f"{times[name]:>10.3f}" for name in names)
        lines.append(row + f"   {speedup:.1f}x faster")
    if "uvloop" not in factories:
        lines.append("(uvloop not installed: column skipped)")
    return "\n".join(lines)
