"""aioxide vs uvloop vs stdlib asyncio: the benchmark driver behind ``make bench``.

    python benches/run.py [--repeat 5] [--scale 1.0] [--timeout 300]
                          [--loops aioxide,uvloop,asyncio] [--workloads call_soon,...]

Every (loop, workload) measurement runs in a fresh subprocess (benches/workloads.py),
repeated --repeat times with the loops interleaved inside each repeat, and the median is
reported. Progress goes to stderr; the Markdown report goes to stdout and the raw
numbers to benches/results/latest.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import sys
from pathlib import Path

from _subproc import seconds_from
from loops import LOOP_NAMES, names_arg, usable_loops, version_of
from report import machine_info, markdown_report
from workloads import WORKLOADS, size_for

HERE = Path(__file__).resolve().parent
WORKER = HERE / "workloads.py"
RESULTS = HERE / "results" / "latest.json"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per (loop, workload)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies workload sizes")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per subprocess")
    parser.add_argument("--loops", type=lambda s: names_arg(s, LOOP_NAMES),
                        default=list(LOOP_NAMES))
    parser.add_argument("--workloads", type=lambda s: names_arg(s, WORKLOADS),
                        default=list(WORKLOADS))
    parser.add_argument("--output", type=Path, default=RESULTS, help="JSON results file")
    args = parser.parse_args(argv)
    if args.repeat < 1 or args.scale <= 0:
        parser.error("--repeat must be >= 1 and --scale > 0")
    return args


def run_one(loop: str, workload: str, scale: float, timeout: float) -> tuple[float | None, str]:
    """Seconds for one measurement in a fresh interpreter, or (None, why it failed)."""
    cmd = [sys.executable, str(WORKER), loop, workload, "--scale", repr(scale)]
    return seconds_from(cmd, timeout)


def collect(args: argparse.Namespace, loops: list[str]) -> dict:
    """samples[workload][loop] -> list of seconds; errors[workload][loop] -> messages."""
    samples = {w: {loop: [] for loop in loops} for w in args.workloads}
    errors = {w: {loop: [] for loop in loops} for w in args.workloads}
    total = args.repeat * len(args.workloads) * len(loops)
    done = 0
    for rep in range(args.repeat):
        for workload in args.workloads:
            for loop in loops:  # interleaved: noise hits every loop alike
                done += 1
                seconds, error = run_one(loop, workload, args.scale, args.timeout)
                if seconds is None:
                    errors[workload][loop].append(error)
                    shown = f"ERROR {error}"
                else:
                    samples[workload][loop].append(seconds)
                    shown = f"{seconds:.4f} s"
                print(
                    f"[{done}/{total}] repeat {rep + 1} {workload:<16} {loop:<8} {shown}",
                    file=sys.stderr,
                    flush=True,
                )
    return {"samples": samples, "errors": errors}


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    command = shlex.join([sys.executable, *sys.argv])
    loops, skipped = usable_loops(args.loops)
    if not loops:
        print("no loop is importable; nothing to measure", file=sys.stderr)
        return 2

    raw = collect(args, loops)
    medians = {
        w: {loop: statistics.median(s) if s else None for loop, s in per_loop.items()}
        for w, per_loop in raw["samples"].items()
    }
    sizes = {w: size_for(w, args.scale) for w in args.workloads}
    machine = machine_info()
    results = {
        "command": command,
        "machine": machine,
        "versions": {loop: version_of(loop) for loop in loops},
        "skipped": skipped,
        "repeat": args.repeat,
        "scale": args.scale,
        "sizes": sizes,
        "medians": medians,
        **raw,
    }
    print(markdown_report(results, args.workloads, loops))

    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nJSON results: {os.path.relpath(args.output)}", file=sys.stderr)
    failed = any(msgs for per_loop in raw["errors"].values() for msgs in per_loop.values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
