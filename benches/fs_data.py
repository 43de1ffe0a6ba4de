"""The data files benches/fs_bench.py reads: generated once per run into a temp dir,
described by ``manifest.json`` there, so every worker checks what it read.

Layout of the data dir:
  lines.txt        UTF-8 text, lines of random words (~80 chars; a few non-ASCII words)
  lines-prefix.txt the first lines of lines.txt (a few MB), for the per-line-slow contenders
  seq.bin          random bytes; every 1 MiB block starts with its index (8 bytes, little
                   endian), so a reader can check it got each block at the right offset
  small/NNNNN.bin  4 KiB files, each starting with its index (8 bytes, little endian)
  warm.bin         one 4 KiB file each worker reads before timing (starts thread pools,
                   rings, contexts)
"""

from __future__ import annotations

import json
import os
import random
import struct
import sys
import time
from pathlib import Path

MIB = 1 << 20
SMALL_SIZE = 4096
HEADER = struct.Struct("<Q")

# Sizes per mode: text file bytes, prefix bytes (aiofiles, to_thread lines), sequential
# file bytes, number of small files.
SIZES = {
    "full": {"lines": 200_000_000, "lines_prefix": 5_000_000, "seq": 1 << 30, "small": 10_000},
    "quick": {"lines": 20_000_000, "lines_prefix": 2_000_000, "seq": 128 * MIB, "small": 1_000},
}

_NON_ASCII = ["café", "naïve", "größe", "smørrebrød", "señor", "déjà", "façade", "jalapeño",
              "Ærø", "crème", "brûlée", "Zürich", "niño", "東京", "Straße", "œuvre"]


def _line_pool(rng: random.Random, n: int = 20_000) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    words = ["".join(rng.choices(letters, k=rng.randint(1, 10))) for _ in range(3000)]
    words += _NON_ASCII
    pool = []
    for _ in range(n):
        target = rng.randint(40, 118)  # mean ~80 chars with the newline
        parts: list[str] = []
        length = 0
        while length < target:
            word = rng.choice(words)
            parts.append(word)
            length += len(word) + 1
        pool.append(" ".join(parts) + "\n")
    return pool


def _write_lines(data: Path, size: int, prefix_size: int, rng: random.Random) -> dict:
    pool = _line_pool(rng)
    full = {"path": "lines.txt", "bytes": 0, "lines": 0, "chars": 0}
    prefix = {"path": "lines-prefix.txt", "bytes": 0, "lines": 0, "chars": 0}
    with open(data / full["path"], "wb") as f, open(data / prefix["path"], "wb") as p:
        while full["bytes"] < size:
            text = "".join(rng.choices(pool, k=10_000))
            raw = text.encode("utf-8")
            targets = [(f, full)] + ([(p, prefix)] if prefix["bytes"] < prefix_size else [])
            for out, entry in targets:
                out.write(raw)
                entry["bytes"] += len(raw)
                entry["lines"] += 10_000
                entry["chars"] += len(text)
    return {"full": full, "prefix": prefix}


def _write_seq(data: Path, size: int) -> dict:
    body = os.urandom(MIB - HEADER.size)
    with open(data / "seq.bin", "wb") as f:
        for i in range(size // MIB):
            f.write(HEADER.pack(i) + body)
    return {"path": "seq.bin", "bytes": size // MIB * MIB}


def _write_small(data: Path, count: int) -> dict:
    (data / "small").mkdir()
    body = os.urandom(SMALL_SIZE - HEADER.size)
    for i in range(count):
        (data / "small" / f"{i:05d}.bin").write_bytes(HEADER.pack(i) + body)
    return {"dir": "small", "count": count, "size": SMALL_SIZE}


def _warm(path: Path) -> None:
    """Read a file once so the measured reads come from the page cache."""
    with open(path, "rb", buffering=0) as f:
        while f.read(MIB):
            pass


def generate(data: Path, mode: str, workloads: list[str]) -> dict:
    """Write the files ``workloads`` need into ``data`` and its manifest; return it."""
    sizes = SIZES[mode]
    rng = random.Random(20240611)
    manifest: dict = {"mode": mode}
    started = time.perf_counter()
    (data / "warm.bin").write_bytes(HEADER.pack(0) + os.urandom(SMALL_SIZE - HEADER.size))
    if "lines" in workloads:
        manifest["lines"] = _write_lines(data, sizes["lines"], sizes["lines_prefix"], rng)
        _warm(data / "lines.txt")
        _warm(data / "lines-prefix.txt")
    if "seq_read" in workloads:
        manifest["seq"] = _write_seq(data, sizes["seq"])
        _warm(data / "seq.bin")
    if "seq_write" in workloads:
        manifest["seq_write"] = {"bytes": sizes["seq"] // MIB * MIB}
    if "small_files" in workloads:
        manifest["small"] = _write_small(data, sizes["small"])
        for path in sorted((data / "small").iterdir()):
            path.read_bytes()
    (data / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"data generated in {data} in {time.perf_counter() - started:.1f} s",
          file=sys.stderr, flush=True)
    return manifest


def load_manifest(data: Path) -> dict:
    return json.loads((data / "manifest.json").read_text())
