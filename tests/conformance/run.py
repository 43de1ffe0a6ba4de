"""Run CPython's test.test_asyncio against aioxide and judge the outcome.

    python tests/conformance/run.py [--jobs 2] [--timeout 600] [MODULE[:Class,...] ...]

Each module runs in its own process (``worker.py``), a few at a time, each under a time
limit. A test counts as passing on aioxide only when it passed and ran on aioxide loops
alone (see ``harness.py``). ``expected_failures.txt`` lists the tests that may fail, one
per line with the reason; any other failure fails the run, and so does a listed test that
passes (an unexpected pass: remove it from the list) or a listed test that no longer
exists.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent

# Every module of test.test_asyncio: those of issue #2 (the loop core), then #3, #4.
MODULES = [
    "test_tasks",
    "test_futures",
    "test_futures2",
    "test_locks",
    "test_queues",
    "test_pep492",
    "test_context",
    "test_runners",
    "test_taskgroups",
    "test_timeouts",
    "test_waitfor",
    "test_threads",
    "test_sock_lowlevel",
    # Issue #3: transports, servers, streams, sendfile (test_events also has the
    # handle/timer debug-repr tests of issue #5).
    "test_events",
    "test_streams",
    "test_server",
    "test_sendfile",
    "test_buffered_proto",
    "test_unix_events",
    # Issue #4: subprocesses; TLS (the native record layer; test_sslproto also unit-tests
    # the stdlib's own SSLProtocol class over aioxide loops).
    "test_subprocess",
    "test_ssl",
    "test_sslproto",
    # The rest of test_asyncio: the base loop, protocol and transport ABCs, the stdlib's
    # selector and proactor transports (unit tests of stdlib-private classes with mock
    # sockets; those that need the stdlib TestLoop's fake-fd registry are excluded) and
    # the Windows-only modules, which skip themselves on other platforms.
    "test_base_events",
    "test_protocols",
    "test_transports",
    "test_selector_events",
    "test_proactor_events",
    "test_windows_events",
    "test_windows_utils",
]


def load_expected(path: Path) -> dict[str, str]:
    """The tests allowed to fail: ``path`` (every version), then each version file of its
    folder that applies here, in version order: ``expected_failures-3.13.txt`` (3.13
    only) or ``expected_failures-3.14+.txt`` (3.14 and later). A ``-test_id  # why``
    line there takes an entry back (a test this version does not have, or passes)."""
    expected = _read_expected(path)
    here = sys.version_info[:2]
    for version, own in sorted(_version_files(path)):
        exact, minimum = own.stem.endswith(f"-{version[0]}.{version[1]}"), version
        if here == minimum or (not exact and here >= minimum):
            for test_id, reason in _read_expected(own).items():
                if test_id.startswith("-"):
                    if expected.pop(test_id[1:], None) is None:
                        raise SystemExit(f"{own.name}: {test_id[1:]} is not listed before")
                else:
                    expected[test_id] = reason
    return expected


def _version_files(path: Path):
    for own in path.parent.glob(f"{path.stem}-3.*.txt"):
        minor = own.stem.rsplit("-3.", 1)[1].rstrip("+")
        if minor.isdigit():
            yield (3, int(minor)), own


def _read_expected(path: Path) -> dict[str, str]:
    expected = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        test_id, _, reason = line.partition("#")
        test_id, reason = test_id.strip(), reason.strip()
        if not reason:
            raise SystemExit(f"{path.name}: no reason given for {test_id}")
        expected[test_id] = reason
    return expected


def run_module(name: str, timeout: float) -> tuple[str, dict, float]:
    start = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        cmd = [sys.executable, str(HERE / "worker.py"), name, str(out)]
        try:
            proc = subprocess.run(
                cmd, capture_output=True, text=True, timeout=timeout, cwd=tmp,
                env={**os.environ, "PYTHONASYNCIODEBUG": ""},
            )
        except subprocess.TimeoutExpired:
            return name, _crash(name, f"timed out after {timeout:.0f}s"), time.monotonic() - start
        if not out.exists():
            detail = f"worker exited {proc.returncode}\n{proc.stderr[-3000:]}"
            return name, _crash(name, detail), time.monotonic() - start
        data = json.loads(out.read_text())
    return name, data, time.monotonic() - start


def _crash(name: str, detail: str) -> dict:
    return {"records": {f"{name}.<module>": {"outcome": "error", "loop": "none",
                                            "detail": detail}}, "dropped_classes": []}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", default=MODULES)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--expected", type=Path, default=HERE / "expected_failures.txt")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args()
    expected = load_expected(args.expected)

    totals = dict(aioxide=0, other=0, xfail=0, failed=0, unexpected=0, skipped=0)
    problems: list[str] = []
    seen: set[str] = set()
    with ThreadPoolExecutor(args.jobs) as pool:
        for name, data, took in pool.map(lambda m: run_module(m, args.timeout), args.modules):
            counts = dict(aioxide=0, other=0, xfail=0, failed=0, unexpected=0, skipped=0)
            for test_id, rec in sorted(data["records"].items()):
                seen.add(test_id)
                outcome = rec["outcome"]
                if outcome == "skip":
                    counts["skipped"] += 1
                elif outcome == "pass" and test_id in expected:
                    counts["unexpected"] += 1
                    problems.append(f"UNEXPECTED PASS {test_id} (listed: {expected[test_id]})")
                elif outcome == "pass":
                    counts["aioxide" if rec["loop"] == "aioxide" else "other"] += 1
                    if args.verbose and rec["loop"] != "aioxide":
                        print(f"  passed without an aioxide loop ({rec['loop']}): {test_id}")
                elif test_id in expected:
                    counts["xfail"] += 1
                else:
                    counts["failed"] += 1
                    problems.append(f"FAIL {test_id} [{rec['loop']}]\n{rec['detail']}")
            for key in totals:
                totals[key] += counts[key]
            dropped = ", ".join(data.get("dropped_classes", [])) or "none"
            print(
                f"{name}: {counts['aioxide']} passed on aioxide, {counts['other']} passed "
                f"without an aioxide loop, {counts['xfail']} expected failures, "
                f"{counts['failed']} failed, {counts['unexpected']} unexpected passes, "
                f"{counts['skipped']} skipped ({took:.1f}s; duplicate selector classes "
                f"dropped: {dropped})",
                flush=True,
            )
    run_modules = tuple(f"{m.partition(':')[0]}." for m in args.modules if ":" not in m)
    stale = sorted(t for t in expected if t.startswith(run_modules) and t not in seen)
    for test_id in stale:
        problems.append(f"STALE expected failure (test not found): {test_id}")
    for p in problems:
        print(p)
    failed = totals["failed"] + totals["unexpected"] + len(stale)
    print(
        f"conformance: {totals['aioxide']} tests passed on aioxide loops; "
        f"{totals['other']} passed without an aioxide loop (not counted); "
        f"{totals['xfail']} expected failures; {totals['skipped']} skipped"
    )
    print(f"conformance: {totals['aioxide']} passed, {failed} failed, "
          f"{totals['skipped']} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
