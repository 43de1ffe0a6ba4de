"""Running one measurement in a fresh interpreter, shared by the benchmark drivers."""

from __future__ import annotations

import json
import subprocess


def seconds_from(cmd: list[str], timeout: float) -> tuple[float | None, str]:
    """Run ``cmd``, whose last output line is JSON with a ``seconds`` field: the seconds,
    or (None, why it failed)."""
    result, error = result_from(cmd, timeout)
    return (None, error) if result is None else (result["seconds"], "")


def result_from(
    cmd: list[str], timeout: float, env: dict[str, str] | None = None
) -> tuple[dict | None, str]:
    """Run ``cmd`` (with ``env`` if given), whose last output line is a JSON object with a
    ``seconds`` field: that object, or (None, why it failed)."""
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return None, f"timed out after {timeout:g} s"
    if proc.returncode != 0:
        lines = (proc.stderr or proc.stdout).strip().splitlines() or ["(no output)"]
        return None, f"exit {proc.returncode}: {lines[-1]}"
    try:
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        result["seconds"] = float(result["seconds"])
        return result, ""
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        return None, f"unreadable output ({exc}): {proc.stdout[-200:]!r}"


def warm_malloc() -> None:
    """Free one 1 MiB heap block, as any long-running process has done by the time it
    serves. glibc then raises its dynamic mmap threshold past 256 KiB. Without that, in a
    fresh process, every read of stdlib asyncio's transports (``sock.recv(256 KiB)``, then
    shrunk to what arrived) is an mmap + mremap + munmap with TLB-shootdown IPIs: asyncio's
    Protocol echo runs 4-5x slower on two cores, and the figure flips with whatever the
    process happened to import. uvloop and aioxide read into buffers of their own; the same
    is done for every loop."""
    block = bytearray(1 << 20)
    del block
