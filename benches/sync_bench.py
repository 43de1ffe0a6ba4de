"""Per-call overhead of the sync/async bridges: aioxide.sync vs asgiref vs to_thread.

    python benches/sync_bench.py [--repeat 5] [--scale 1.0] [--timeout 300]

Workloads (n calls, awaited or called one after the other; the time per call is
reported):

sync_to_async  a trivial sync function (returns its argument) awaited n times inside one
               running aioxide loop, through aioxide.sync.sync_to_async, asgiref's
               sync_to_async (both thread-sensitive, their default) and
               asyncio.to_thread. The loop is aioxide's for all three.
async_to_sync  a trivial coroutine (returns its argument) called n times from a plain
               thread (the main thread, no loop running) through aioxide.sync and
               asgiref's async_to_sync.

As benches/run.py does, every measurement runs in a fresh subprocess, the
implementations are interleaved inside each repeat, and the median is reported. Progress
goes to stderr, the Markdown table to stdout. Target: asgiref / aioxide >= 2x.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shlex
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _subproc import seconds_from  # noqa: E402

HERE = Path(__file__).resolve().parent
TARGET = 2.0
BASE_SIZES = {"sync_to_async": 5000, "async_to_sync": 2000}
IMPLS = {
    "sync_to_async": ("aioxide", "asgiref", "to_thread"),
    "async_to_sync": ("aioxide", "asgiref"),
}
WARMUP = 50


def trivial(x: int) -> int:
    return x


async def trivial_coro(x: int) -> int:
    return x


def measure_sync_to_async(impl: str, n: int) -> float:
    import aioxide

    if impl == "aioxide":
        from aioxide.sync import sync_to_async

        call = sync_to_async(trivial)
    elif impl == "asgiref":
        from asgiref.sync import sync_to_async

        call = sync_to_async(trivial)
    else:

        async def call(x: int) -> int:
            return await asyncio.to_thread(trivial, x)

    async def main() -> float:
        for i in range(WARMUP):
            await call(i)
        start = time.perf_counter()
        total = 0
        for i in range(n):
            total += await call(i)
        elapsed = time.perf_counter() - start
        _check(total == n * (n - 1) // 2, "wrong sum of results")
        return elapsed

    return aioxide.run(main())


def measure_async_to_sync(impl: str, n: int) -> float:
    if impl == "aioxide":
        from aioxide.sync import async_to_sync
    else:
        from asgiref.sync import async_to_sync
    call = async_to_sync(trivial_coro)
    for i in range(WARMUP):
        call(i)
    start = time.perf_counter()
    total = 0
    for i in range(n):
        total += call(i)
    elapsed = time.perf_counter() - start
    _check(total == n * (n - 1) // 2, "wrong sum of results")
    return elapsed


def _check(ok: bool, message: str) -> None:
    if not ok:
        print(message, file=sys.stderr)
        sys.exit(3)


def worker(workload: str, impl: str, n: int) -> int:
    measure = measure_sync_to_async if workload == "sync_to_async" else measure_async_to_sync
    seconds = measure(impl, n)
    print(json.dumps({"workload": workload, "impl": impl, "n": n, "seconds": seconds}))
    return 0


def run_one(workload: str, impl: str, n: int, timeout: float) -> tuple[float | None, str]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", workload, impl,
           "--n", str(n)]
    return seconds_from(cmd, timeout)


def _us(value: float | None) -> str:
    return "error" if value is None else f"{value:.1f}"


def report(per_call: dict[str, dict[str, float | None]], command: str, repeat: int) -> str:
    from importlib.metadata import version

    lines = [
        f"Command: `{command}` (median of {repeat} fresh processes; "
        f"Python {sys.version.split()[0]}, asgiref {version('asgiref')})",
        "",
        "| bridge | aioxide.sync µs/call | asgiref µs/call | asyncio.to_thread µs/call "
        "| asgiref / aioxide | target ≥2x |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for workload, times in per_call.items():
        ours, theirs = times.get("aioxide"), times.get("asgiref")
        ratio = theirs / ours if ours and theirs else None
        verdict = "n/a" if ratio is None else ("met" if ratio >= TARGET else "missed")
        to_thread = _us(times["to_thread"]) if "to_thread" in times else "–"
        shown = "error" if ratio is None else f"{ratio:.2f}x"
        lines.append(
            f"| {workload} | {_us(ours)} | {_us(theirs)} | {to_thread} | {shown} | {verdict} |"
        )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per implementation")
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies call counts")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per subprocess")
    parser.add_argument("--worker", nargs=2, metavar=("WORKLOAD", "IMPL"), help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args.worker[0], args.worker[1], args.n)
    if args.repeat < 1 or args.scale <= 0:
        parser.error("--repeat must be >= 1 and --scale > 0")

    sizes = {w: max(1, int(base * args.scale)) for w, base in BASE_SIZES.items()}
    samples: dict[str, dict[str, list[float]]] = {
        w: {impl: [] for impl in impls} for w, impls in IMPLS.items()
    }
    failed = False
    total = args.repeat * sum(len(impls) for impls in IMPLS.values())
    done = 0
    for rep in range(args.repeat):
        for workload, impls in IMPLS.items():
            for impl in impls:  # interleaved: noise hits every implementation alike
                done += 1
                seconds, error = run_one(workload, impl, sizes[workload], args.timeout)
                if seconds is None:
                    failed = True
                    shown = f"ERROR {error}"
                else:
                    samples[workload][impl].append(seconds)
                    shown = f"{seconds:.4f} s"
                print(f"[{done}/{total}] repeat {rep + 1} {workload:<14} {impl:<10} {shown}",
                      file=sys.stderr, flush=True)
    per_call = {
        w: {
            impl: statistics.median(s) / sizes[w] * 1e6 if s else None
            for impl, s in per_impl.items()
        }
        for w, per_impl in samples.items()
    }
    print(report(per_call, shlex.join(["python", "benches/sync_bench.py", *argv]), args.repeat))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
