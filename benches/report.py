"""The Markdown report: machine, command, one row per workload, targets met or missed.

Ratios are speedups of aioxide: ``other_time / aioxide_time``, so 2.00x means aioxide
took half the time and anything below 1.00x means aioxide was slower.
"""

from __future__ import annotations

import os
import platform
import sys

# workload -> minimum speedup of aioxide over uvloop
TARGETS = {
    "call_soon": 2.0,
    "call_later": 2.0,
    "sleep0_tasks": 1.3,
    "futures": 2.0,
    "sock_pingpong": 1.5,
    "reader_pingpong": 1.5,
    "subprocess_spawn": 1.0,  # issue #4: at least as fast as uvloop
}


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info() -> dict:
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {
        "nproc": usable or os.cpu_count(),
        "cpu": _cpu_model(),
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
    }


def _speedup(other: float | None, ours: float | None) -> float | None:
    if other is None or ours is None or ours <= 0:
        return None
    return other / ours


def _fmt_seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.4f}"


def _fmt_ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}x"


def _status(ratio: float | None, target: float | None) -> str:
    if target is None:
        return "no target"
    if ratio is None:
        return "n/a"
    return "met" if ratio >= target else "missed"


def markdown_report(results: dict, workloads: list[str], loops: list[str]) -> str:
    m = results["machine"]
    versions = ", ".join(f"{name} {v}" for name, v in results["versions"].items())
    lines = [
        "# aioxide benchmarks",
        "",
        f"- machine: nproc={m['nproc']}, {m['cpu']}, {m['platform']}",
        f"- python: {m['implementation']} {m['python']}; loops: {versions}",
        f"- command: `{results['command']}`",
        f"- median of {results['repeat']} fresh-subprocess runs per cell, "
        f"scale {results['scale']:g}",
        "- ratios are aioxide speedups (other time / aioxide time; >1 = aioxide faster)",
    ]
    for name, reason in results["skipped"].items():
        lines.append(f"- **{name} skipped**: {reason}")
    peers = [loop for loop in loops if loop != "aioxide"]
    lines += [
        "",
        "| workload | n | " + " | ".join(f"{loop} (s)" for loop in loops) + " | "
        + " | ".join(f"vs {loop}" for loop in peers)
        + " | vs best peer | target vs uvloop | status |",
        "|---|--:|" + "--:|" * (len(loops) + len(peers) + 2) + "---|",
    ]
    notes = []
    for w in workloads:
        med = results["medians"][w]
        ours = med.get("aioxide")
        ratios = {loop: _speedup(med.get(loop), ours) for loop in peers}
        # the best peer is the fastest one, so the smallest speedup over it
        measured = [r for loop, r in ratios.items() if r is not None and loop != "asyncio"]
        best = min(measured) if measured else None
        target = TARGETS.get(w)
        cells = [w, f"{results['sizes'][w]:,}"]
        cells += [_fmt_seconds(med.get(loop)) for loop in loops]
        cells += [_fmt_ratio(ratios[loop]) for loop in peers]
        cells += [
            _fmt_ratio(best),
            "—" if target is None else f"≥{target:g}x",
            _status(ratios.get("uvloop"), target),
        ]
        lines.append("| " + " | ".join(cells) + " |")
        vs_std = ratios.get("asyncio")
        if vs_std is not None and vs_std < 1.0:
            notes.append(f"- {w}: aioxide is SLOWER than stdlib asyncio ({vs_std:.2f}x)")
        for loop in loops:
            for error in dict.fromkeys(results["errors"][w].get(loop, [])):
                notes.append(f"- {w} on {loop} failed: {error}")
    if notes:
        lines += ["", "Notes:", *notes]
    return "\n".join(lines)
