"""aioxide.fs vs aiofile vs aiofiles vs asyncio.to_thread vs plain sync file I/O.

    python benches/fs_bench.py [--quick] [--repeat 3] [--fs-backend auto|io_uring|threads|both]
                               [--workloads lines,...] [--contenders aiofile,...]
                               [--others-loop asyncio] [--timeout 300]

Workloads (full size; --quick in brackets):

lines        iterate a 200 MB [20 MB] UTF-8 text file of random-word lines (~80 chars):
             aioxide.fs ``async for line in aioxide.fs.open(path, encoding="utf-8")``,
             aiofile ``LineReader`` (default chunk size), aiofiles ``async for line in f``,
             ``await asyncio.to_thread(f.readline)`` per line, sync ``for line in f``.
             aiofiles and to_thread pay a thread-pool round trip per line, so they iterate
             the first 5 MB [2 MB] of the same text (a separate file) and their time for the
             whole file is extrapolated from their lines/s (marked ≈ in the table).
seq_read     read a 1 GiB [128 MiB] file in 1 MiB calls; the file is in the page cache
             (written, then read once; dropping the cache needs root). aioxide.fs, aiofiles,
             to_thread and sync use ``open(path, "rb", buffering=0)`` and ``read(1 MiB)``;
             aiofile ``read_bytes(1 MiB, offset)`` with explicit offsets.
seq_write    write 1 GiB [128 MiB] in 1 MiB calls into a new file, then close (no fsync:
             this measures the path into the page cache, not the disk); aiofile
             ``write_bytes(chunk, offset)``. The file is deleted after each cell.
small_files  10,000 [1,000] files of 4 KiB read whole, all at once under one
             ``asyncio.gather``: ``aioxide.fs.read_bytes(path)``, aiofiles and aiofile
             ``async with open(...) as f: await f.read()``,
             ``asyncio.to_thread(Path.read_bytes)``; sync reads them one after another.

Contenders: aioxide.fs on the aioxide loop and on uvloop (a foreign loop); aiofile, aiofiles
and to_thread on ``--others-loop`` (default: stdlib asyncio, what their users run); sync.
The data files are generated once into a temp dir under /tmp and deleted at the end. Every
(workload, contender) measurement is a fresh process (benches/fs_workloads.py); each repeat
runs every contender once per workload (order rotated between repeats) and the table shows
medians. ``--fs-backend`` sets AIOXIDE_FS_BACKEND for the aioxide.fs cells (default: the
variable's current value, else aioxide's own choice); ``both`` runs them with io_uring and
with threads. Progress goes to stderr, the Markdown report to stdout and the raw numbers to
benches/results/fs_latest.json.

Thread hand-offs are sensitive to the machine: on a VM with an idle second vCPU every
wake-up of a pool thread pays for un-halting that vCPU, and the per-line aiofiles and
to_thread cells ran ~3.5x faster (2 vCPUs, Firecracker) while an unrelated busy loop kept
the other core awake. Compare cells from the same run, on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _subproc import result_from  # noqa: E402
from fs_data import MIB, SIZES, generate  # noqa: E402
from fs_workloads import PREFIX_CONTENDERS, WORKLOADS  # noqa: E402
from loops import names_arg  # noqa: E402
from report import machine_info  # noqa: E402

HERE = Path(__file__).resolve().parent
WORKER = HERE / "fs_workloads.py"
RESULTS = HERE / "results" / "fs_latest.json"
CONTENDERS = ("aioxide.fs@aioxide", "aioxide.fs@uvloop", "aiofile", "aiofiles", "to_thread",
              "sync")
FS_BACKENDS = ("auto", "io_uring", "threads", "both")
MODULES = {"aioxide.fs": "aioxide.fs", "uvloop": "uvloop", "aiofile": "aiofile",
           "aiofiles": "aiofiles"}

# workload -> (reference contender, minimum speedup of aioxide.fs over it, wording);
# speedup = reference time / aioxide.fs time.
TARGETS = {
    "lines": [("aiofiles", 10.0, "lines/s ≥10x aiofiles"), ("sync", 0.5, "time ≤2x sync")],
    "seq_read": [("aiofile", 1.0, "throughput ≥ aiofile")],
    "seq_write": [("aiofile", 1.0, "throughput ≥ aiofile")],
    "small_files": [("aiofiles", 2.0, "≥2x aiofiles")],
}


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="smoke-test sizes: 20 MB text, 128 MiB sequential, 1000 files")
    parser.add_argument("--repeat", type=int, default=3, help="runs per cell")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per subprocess")
    parser.add_argument("--fs-backend", choices=FS_BACKENDS,
                        default=os.environ.get("AIOXIDE_FS_BACKEND") or "auto",
                        help="AIOXIDE_FS_BACKEND for the aioxide.fs cells (default: its "
                             "current value, else auto); both = io_uring and threads")
    parser.add_argument("--others-loop", choices=("asyncio", "uvloop", "aioxide"),
                        default="asyncio", help="loop for aiofile, aiofiles and to_thread")
    parser.add_argument("--workloads", type=lambda s: names_arg(s, WORKLOADS),
                        default=list(WORKLOADS))
    parser.add_argument("--contenders", type=lambda s: names_arg(s, CONTENDERS),
                        default=list(CONTENDERS))
    parser.add_argument("--output", type=Path, default=RESULTS, help="JSON results file")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be >= 1")
    return args


def _import_error(module: str) -> str | None:
    """None when ``module`` imports in a fresh interpreter, else the error's last line."""
    proc = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True,
                          text=True)
    if proc.returncode == 0:
        return None
    return (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1]


def build_cells(args: argparse.Namespace) -> tuple[list[dict], dict[str, str]]:
    """The cells to measure (key, contender, loop, AIOXIDE_FS_BACKEND) and the skipped
    contenders with the reason."""
    needed = {"aioxide.fs@aioxide": ["aioxide.fs"], "aioxide.fs@uvloop": ["aioxide.fs", "uvloop"],
              "aiofile": ["aiofile"], "aiofiles": ["aiofiles"], "to_thread": [], "sync": []}
    if args.others_loop != "asyncio":
        for name in ("aiofile", "aiofiles", "to_thread"):
            needed[name].append({"uvloop": "uvloop", "aioxide": "aioxide"}[args.others_loop])
    errors = {m: _import_error(m) for m in {m for c in args.contenders for m in needed[c]}}
    backends = ["io_uring", "threads"] if args.fs_backend == "both" else [args.fs_backend]
    cells, skipped = [], {}
    for name in args.contenders:
        missing = [f"{m}: {errors[m]}" for m in needed[name] if errors[m]]
        if missing:
            skipped[name] = "; ".join(missing)
            continue
        if name.startswith("aioxide.fs@"):
            loop = name.split("@")[1]
            for backend in backends:
                tag = "" if backend == "auto" else f"[{backend}]"
                cells.append({"key": f"aioxide.fs{tag}@{loop}", "contender": "aioxide.fs",
                              "loop": loop, "fs_backend": backend})
        elif name == "sync":
            cells.append({"key": "sync", "contender": "sync", "loop": "none",
                          "fs_backend": None})
        else:
            cells.append({"key": f"{name}@{args.others_loop}", "contender": name,
                          "loop": args.others_loop, "fs_backend": None})
    return cells, skipped


def run_cell(workload: str, cell: dict, data: Path, timeout: float) -> tuple[dict | None, str]:
    loop = "asyncio" if cell["loop"] == "none" else cell["loop"]
    cmd = [sys.executable, str(WORKER), workload, cell["contender"], loop, "--data", str(data)]
    env = dict(os.environ)
    if cell["fs_backend"] == "auto":
        env.pop("AIOXIDE_FS_BACKEND", None)
    elif cell["fs_backend"]:
        env["AIOXIDE_FS_BACKEND"] = cell["fs_backend"]
    return result_from(cmd, timeout, env)


def collect(args: argparse.Namespace, cells: list[dict], data: Path) -> dict:
    """samples[workload][key] -> seconds; info[workload][key] -> the last worker result;
    errors[workload][key] -> messages."""
    keys = [c["key"] for c in cells]
    samples = {w: {k: [] for k in keys} for w in args.workloads}
    info: dict = {w: {} for w in args.workloads}
    errors = {w: {k: [] for k in keys} for w in args.workloads}
    total = args.repeat * len(args.workloads) * len(cells)
    done = 0
    for rep in range(args.repeat):
        for workload in args.workloads:
            shift = rep % len(cells)  # rotated, so no cell always runs first
            for cell in cells[shift:] + cells[:shift]:
                done += 1
                result, error = run_cell(workload, cell, data, args.timeout)
                key = cell["key"]
                if result is None:
                    errors[workload][key].append(error)
                    shown = f"ERROR {error}"
                else:
                    samples[workload][key].append(result["seconds"])
                    info[workload][key] = result
                    shown = f"{result['seconds']:.4f} s"
                print(f"[{done}/{total}] repeat {rep + 1} {workload:<11} {key:<26} {shown}",
                      file=sys.stderr, flush=True)
    return {"samples": samples, "info": info, "errors": errors}


def summarize(raw: dict, manifest: dict, cells: list[dict], workloads: list[str]) -> dict:
    """Per workload and cell: median seconds, seconds for the whole workload (extrapolated
    for the lines-prefix cells), throughput, and speedups over every other cell."""
    out: dict = {}
    for w in workloads:
        rows = {}
        for cell in cells:
            key = cell["key"]
            runs = raw["samples"][w][key]
            result = raw["info"][w].get(key)
            if not runs or result is None:
                rows[key] = None
                continue
            median = statistics.median(runs)
            scale = 1.0
            if w == "lines" and cell["contender"] in PREFIX_CONTENDERS:
                scale = manifest["lines"]["full"]["lines"] / result["items"]
            per_second = result["items"] / median if median > 0 else None
            if w in ("seq_read", "seq_write"):
                per_second = result["bytes"] / median / MIB if median > 0 else None
            rows[key] = {"median": median, "time": median * scale, "extrapolated": scale != 1.0,
                         "per_second": per_second, "backend": result.get("backend"),
                         "caio": result.get("caio"), "measured_items": result["items"]}
        out[w] = rows
    return out


def _by_contender(cells: list[dict], name: str) -> str | None:
    return next((c["key"] for c in cells if c["contender"] == name), None)


def _speedup(rows: dict, ref: str | None, key: str) -> float | None:
    if ref is None or rows.get(ref) is None or rows.get(key) is None:
        return None
    return rows[ref]["time"] / rows[key]["time"]


def _fmt_ratio(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.3f}x" if value < 0.1 else f"{value:.2f}x"


def _describe(w: str, manifest: dict) -> str:
    if w == "lines":
        full, prefix = manifest["lines"]["full"], manifest["lines"]["prefix"]
        return (f"`async for line in f` over {full['bytes'] / 1e6:.0f} MB of UTF-8 text, "
                f"{full['lines']:,} lines; aiofiles and to_thread(readline) iterate the first "
                f"{prefix['bytes'] / 1e6:.1f} MB ({prefix['lines']:,} lines) and their time "
                f"for the whole file is extrapolated (≈) from their lines/s")
    if w == "seq_read":
        return (f"{manifest['seq']['bytes'] // MIB:,} MiB file (in the page cache) read in "
                f"1 MiB calls")
    if w == "seq_write":
        return (f"{manifest['seq_write']['bytes'] // MIB:,} MiB written in 1 MiB calls to a "
                f"new file, then closed (no fsync: into the page cache)")
    small = manifest["small"]
    return (f"{small['count']:,} files of {small['size'] // 1024} KiB read whole under one "
            f"asyncio.gather (sync: one after another)")


UNITS = {"lines": "lines/s", "seq_read": "MiB/s", "seq_write": "MiB/s", "small_files": "files/s"}


def markdown_report(results: dict, cells: list[dict]) -> str:
    m = results["machine"]
    versions = ", ".join(f"{k} {v}" for k, v in results["versions"].items())
    lines = [
        "# aioxide.fs benchmarks",
        "",
        f"- machine: nproc={m['nproc']}, {m['cpu']}, {m['platform']}",
        f"- python: {m['implementation']} {m['python']}; {versions}",
        f"- command: `{results['command']}`",
        f"- median of {results['repeat']} fresh-subprocess runs per cell; data under /tmp "
        f"({results['filesystem']})",
        "- `vs X` = X's time / this row's time (>1 = this row faster); throughput from the "
        "measured run",
    ]
    for name, reason in results["skipped"].items():
        lines.append(f"- **{name} skipped**: {reason}")
    failed = False
    ref_keys = {name: _by_contender(cells, name) for name in ("aiofiles", "aiofile", "sync")}
    for w in results["workloads"]:
        rows = results["summary"][w]
        unit = UNITS[w]
        lines += [
            "",
            f"## {w}: {_describe(w, results['manifest'])}",
            "",
            f"| contender | loop | engine | time (s) | {unit} | vs aiofiles | vs aiofile "
            "| vs sync |",
            "|---|---|---|--:|--:|--:|--:|--:|",
        ]
        for cell in cells:
            key, row = cell["key"], rows.get(cell["key"])
            name = key.split("@")[0]
            engine = "—"
            if row is not None:
                engine = row["backend"] or row["caio"] or ("thread pool" if cell["contender"] in (
                    "aiofiles", "to_thread") else "—")
            if row is None:
                lines.append(f"| {name} | {cell['loop']} | — | error | — | — | — | — |")
                continue
            shown = f"≈{row['time']:.3f}" if row["extrapolated"] else f"{row['time']:.3f}"
            rate = "—" if row["per_second"] is None else f"{row['per_second']:,.0f}"
            ratios = [_fmt_ratio(_speedup(rows, ref_keys[r], key))
                      for r in ("aiofiles", "aiofile", "sync")]
            lines.append(f"| {name} | {cell['loop']} | {engine} | {shown} | {rate} | "
                         + " | ".join(ratios) + " |")
        verdicts = []
        for cell in cells:
            if cell["contender"] != "aioxide.fs":
                continue
            for ref, minimum, wording in TARGETS[w]:
                ratio = _speedup(rows, ref_keys[ref], cell["key"])
                status = "n/a" if ratio is None else ("met" if ratio >= minimum else "MISSED")
                if ref == "sync" and ratio:
                    measured = f"{1 / ratio:.2f}x sync's time"
                else:
                    measured = f"{_fmt_ratio(ratio)} {ref}"
                verdicts.append(f"- target {wording}: {cell['key']}: {measured} — {status}")
        lines += ["", *verdicts]
        for cell in cells:
            for error in dict.fromkeys(results["errors"][w].get(cell["key"], [])):
                failed = True
                lines.append(f"- **{w} on {cell['key']} failed**: {error}")
    if failed:
        lines += ["", "Some cells failed; see above."]
    return "\n".join(lines)


def _versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for dist in ("aioxide", "uvloop", "aiofile", "caio", "aiofiles"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            pass
    return out


def _filesystem(path: str) -> str:
    try:
        proc = subprocess.run(["findmnt", "-n", "-o", "FSTYPE,SOURCE", "-T", path],
                              capture_output=True, text=True)
        return " ".join(proc.stdout.split()) or "unknown"
    except OSError:
        return "unknown"


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    command = shlex.join(["python", "benches/fs_bench.py", *argv])
    cells, skipped = build_cells(args)
    for name, reason in skipped.items():
        print(f"skipping {name}: {reason}", file=sys.stderr)
    if not cells:
        print("no contender is available; nothing to measure", file=sys.stderr)
        return 2

    data = Path(tempfile.mkdtemp(prefix="aioxide-fs-bench-", dir="/tmp"))
    try:
        manifest = generate(data, "quick" if args.quick else "full", args.workloads)
        raw = collect(args, cells, data)
    finally:
        shutil.rmtree(data, ignore_errors=True)

    results = {
        "command": command,
        "machine": machine_info(),
        "versions": _versions(),
        "filesystem": _filesystem("/tmp"),
        "skipped": skipped,
        "repeat": args.repeat,
        "mode": "quick" if args.quick else "full",
        "sizes": SIZES["quick" if args.quick else "full"],
        "workloads": args.workloads,
        "cells": cells,
        "manifest": manifest,
        "summary": summarize(raw, manifest, cells, args.workloads),
        **raw,
    }
    print(markdown_report(results, cells))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nJSON results: {os.path.relpath(args.output)}", file=sys.stderr)
    failed = any(msgs for per_cell in raw["errors"].values() for msgs in per_cell.values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
