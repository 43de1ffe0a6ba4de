"""Cost of the blocking watchdog: the same workloads on aioxide with the watchdog off and
on (threshold 100 ms), in one run.

    python benches/watchdog_overhead.py [--repeat 7] [--scale 1.0]

Each repeat is a fresh subprocess in which off and on alternate ``--inner`` times (a new
loop each time, which mode goes first alternating too); the subprocess keeps the fastest
time of each mode (interference from the rest of a shared machine only ever adds time)
and reports their ratio; the median ratio over repeats is the overhead.
Target (issue #5): at most 3 %.
``echo_protocol`` is the echo-protocol benchmark the issue names (TCP, transports and
``Protocol`` objects); the socket ping-pong and two callback-heavy workloads sit beside it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORKLOADS = ("echo_protocol", "sock_pingpong", "sleep0_tasks", "call_soon")
TARGET = 0.03

_CHILD = """
import json, sys
sys.path.insert(0, {here!r})
import aioxide, aioxide.debug
import workloads
n = workloads.size_for({workload!r}, {scale!r})
run = workloads.WORKLOADS[{workload!r}][1]
best = {{False: float("inf"), True: float("inf")}}
for i in range({inner!r}):
    # Alternate which mode goes first, so position in the pair favours neither.
    for watch in ((False, True) if i % 2 == 0 else (True, False)):
        loop = aioxide.new_event_loop()
        if watch:
            aioxide.debug.watchdog(0.1, loop=loop)
        best[watch] = min(best[watch], run(loop, n))
        loop.close()
print(json.dumps([best[False], best[True]]))
"""


def measure(workload: str, scale: float, inner: int) -> tuple[float, float]:
    code = _CHILD.format(here=str(HERE), workload=workload, scale=scale, inner=inner)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=600, check=True)
    off, on = json.loads(out.stdout.strip().splitlines()[-1])
    return off, on


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--inner", type=int, default=5)
    parser.add_argument("--scale", type=float, default=1.0)
    args = parser.parse_args()
    rows = []
    for workload in WORKLOADS:
        pairs = [measure(workload, args.scale, args.inner) for _ in range(args.repeat)]
        overhead = statistics.median(on / off - 1 for off, on in pairs)
        m_off = statistics.median(off for off, _ in pairs)
        m_on = statistics.median(on for _, on in pairs)
        rows.append((workload, m_off, m_on, overhead))
    print(f"command: `python benches/watchdog_overhead.py --repeat {args.repeat} "
          f"--inner {args.inner} --scale {args.scale}`; per process the best of "
          f"{args.inner} alternating runs per mode, median over {args.repeat} processes\n")
    print("| workload | watchdog off (s) | watchdog on, 100 ms (s) | overhead | target ≤3% |")
    print("|---|--:|--:|--:|---|")
    for workload, m_off, m_on, overhead in rows:
        status = "met" if overhead <= TARGET else "missed"
        print(f"| {workload} | {m_off:.4f} | {m_on:.4f} | {overhead * 100:+.1f}% | {status} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
