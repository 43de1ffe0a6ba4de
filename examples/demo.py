"""aioxide demo: ordinary asyncio programs, run on stdlib asyncio and then on aioxide.

    python examples/demo.py

Each program returns a transcript (a list of strings). Orders are made deterministic with
small, well-separated sleeps, and transcripts never contain timings, so both loops must
produce exactly the same lines. The demo prints each transcript once, says whether the
two loops agreed, and exits 1 if any program differed. A short in-process timing
comparison (stdlib asyncio, uvloop if installed, aioxide) closes the demo.
"""

from __future__ import annotations

import asyncio
import sys
import traceback

import aioxide
from demo_programs import PROGRAMS
from demo_timing import timing_table


def run_on(runner, program) -> list[str]:
    """The program's transcript on one loop; a crash becomes the transcript's last line."""
    try:
        return runner(program())
    except (Exception, asyncio.CancelledError) as exc:
        tb = traceback.format_exception_only(type(exc), exc)[-1].strip()
        return [f"!! raised {tb}"]


def main() -> int:
    differing = []
    for title, program in PROGRAMS:
        on_asyncio = run_on(asyncio.run, program)
        on_aioxide = run_on(aioxide.run, program)
        same = on_asyncio == on_aioxide
        print(f"== {title}")
        for line in on_asyncio:
            print(f"   {line}")
        if same:
            print("   same output on asyncio and aioxide: yes")
        else:
            differing.append(title)
            print("   same output on asyncio and aioxide: NO; aioxide printed:")
            for line in on_aioxide:
                print(f"   | {line}")
        print()

    print(timing_table())
    if differing:
        print(f"\n{len(differing)} program(s) differed: {', '.join(differing)}")
        return 1
    print(f"\nall {len(PROGRAMS)} programs gave the same output on asyncio and aioxide")
    return 0


if __name__ == "__main__":
    sys.exit(main())
