"""Helpers shared by the aioxide.fs tests.

The oracle is Python's built-in ``open``: the same operations are applied to a built-in
file object and to an ``aioxide.fs`` file object, and the results (return values or
exception types) and the final bytes on disk are compared.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import os
import random

import aioxide.fs as afs

# Sizes the native engine or the Python layer may plausibly use for internal buffers:
# data placed across these offsets exercises every "chunk boundary" code path.
BOUNDARIES = (4096, 8192, 16384, 32768, 65536, 131072, 262144, 524288, 1048576)


def outcome(fn, *args):
    """What calling ``fn(*args)`` gives: ("ok", value) or ("raise", exception type)."""
    try:
        return ("ok", fn(*args))
    except Exception as exc:  # noqa: BLE001 - the type is the result
        return ("raise", type(exc))


async def aoutcome(fn, *args):
    """Like ``outcome`` for a coroutine function."""
    try:
        return ("ok", await fn(*args))
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # noqa: BLE001
        return ("raise", type(exc))


def run_ops_builtin(f, ops):
    """Apply ``ops`` [(method name, *args)] to a built-in file; the list of outcomes."""
    return [outcome(getattr(f, name), *args) for name, *args in ops]


async def run_ops_async(f, ops):
    """Apply ``ops`` to an aioxide.fs file (every method awaited); the list of outcomes."""
    return [await aoutcome(getattr(f, name), *args) for name, *args in ops]


def compare_ops(loop, path, mode, ops, initial=None, opaque=(), **open_kwargs):
    """Run ``ops`` on ``path`` with built-in open and with aioxide.fs.open (each on its own
    copy of ``initial``, ``None`` meaning "no file"); assert equal outcomes and bytes.

    For the methods named in ``opaque`` (e.g. text-mode "tell"), only the kind of outcome
    is compared, not the value."""
    ref = path.with_name(path.name + ".ref")
    for p in (path, ref):
        if initial is None:
            if p.exists():
                p.unlink()
        else:
            p.write_bytes(initial)

    expected = outcome(lambda: open(ref, mode, **open_kwargs))
    if expected[0] == "ok":
        with expected[1] as f:
            expected_results = run_ops_builtin(f, ops)
        expected_results = [r if r[0] == "raise" else ("ok", r[1]) for r in expected_results]

    async def main():
        async def do_open():
            return await afs.open(path, mode, **open_kwargs)

        opened = await aoutcome(do_open)
        if opened[0] == "raise":
            return opened, None
        f = opened[1]
        try:
            return opened, await run_ops_async(f, ops)
        finally:
            await f.close()

    got_open, got_results = loop.run_until_complete(asyncio.wait_for(main(), 20))
    assert got_open[0] == expected[0], (got_open, expected)
    if expected[0] == "raise":
        assert got_open[1] is expected[1]
        return
    for i, (op, want, got) in enumerate(zip(ops, expected_results, got_results, strict=True)):
        if op[0] in opaque and want[0] == "ok":
            want, got = want[0], got[0]
        assert got == want, f"op #{i} {op!r}: builtin {want!r}, aioxide.fs {got!r}"
    want_bytes = ref.read_bytes() if ref.exists() else None
    got_bytes = path.read_bytes() if path.exists() else None
    assert got_bytes == want_bytes


def open_fds() -> dict[int, str]:
    """This process's descriptors and what they point to (for leak messages), after a
    garbage collection (engines of loops closed earlier may otherwise be released, and
    their descriptors closed, in the middle of a measurement)."""
    gc.collect()
    out = {}
    for name in os.listdir("/proc/self/fd"):
        try:
            out[int(name)] = os.readlink(f"/proc/self/fd/{name}")
        except OSError:
            pass
    return out


def new_fds(before: dict[int, str]) -> dict[int, str]:
    """The descriptors opened since ``before = open_fds()`` and still open: empty when the
    count of open descriptors is back to what it was (the details are for messages)."""
    now = open_fds()
    if len(now) == len(before):
        return {}
    diff = {fd: t for fd, t in now.items() if before.get(fd) != t}
    diff.update({fd: f"CLOSED {t}" for fd, t in before.items() if fd not in now})
    return diff


def builtin_read(path, mode="r", **kw):
    with open(path, mode, **kw) as f:
        return f.read()


def random_lines(rng: random.Random, n: int, endings=("\n",), min_len=0, max_len=80) -> str:
    """``n`` lines of lowercase words ending with one of ``endings`` (chosen at random)."""
    out = []
    for _ in range(n):
        out.append("".join(rng.choices("abcdefghij klmnop", k=rng.randint(min_len, max_len))))
        out.append(rng.choice(endings))
    return "".join(out)


def ascii_filler(rng: random.Random, n: int, min_len: int = 100, max_len: int = 900) -> str:
    """Exactly ``n`` ASCII characters of text lines ending in \\n, \\r\\n or \\r."""
    parts = []
    total = 0
    while total < n:
        line = "".join(rng.choices("qwertyuiop asdfghjkl", k=rng.randint(min_len, max_len)))
        line += rng.choice(("\n", "\r\n", "\r", "\n", "\n"))
        parts.append(line)
        total += len(line)
    return "".join(parts)[:n]


# special: (text, number of its *characters* that go before the boundary)
SPECIALS = {
    # \r then \n across the boundary
    "crlf": ("\r\n", 1),
    # a lone \r as the last character before the boundary, then an ordinary character
    "cr_alone": ("\rx", 1),
    # \r before the boundary and \r\n after it
    "cr_crlf": ("\r\r\n", 1),
    # \n before the boundary then \r\n
    "lf_crlf": ("\n\r\n", 2),
}

# codec giving the encoded length of a piece of text (no BOM) and the BOM length
_PLAIN = {"utf-8": "utf-8", "latin-1": "latin-1", "utf-16": "utf-16-le", "utf-8-sig": "utf-8"}
_BOM = {"utf-8": 0, "latin-1": 0, "utf-16": 2, "utf-8-sig": 3}


def _multibyte_special(encoding: str, i: int) -> tuple[str, int]:
    """(character, how many of its encoded bytes go before the boundary)."""
    if encoding == "latin-1":
        return "\xe9", 0  # single-byte: just a non-ASCII character on the boundary
    if encoding == "utf-16":
        return "\U0001f600", 2  # surrogate pair split between its code units
    return (("\U0001f600", 3), ("\u20ac", 1), ("\xe9", 1), ("\U0001f600", 1))[i % 4]


@functools.lru_cache(maxsize=None)
def boundary_text(encoding: str, kind: str, size: int = 1200 * 1024, seed: int = 7) -> str:
    """Text which, encoded with ``encoding``, has the newline sequence ``kind`` (a key of
    SPECIALS) straddling every offset in BOUNDARIES, or for ``kind == "multibyte"`` a
    multi-byte character split across each of them."""
    rng = random.Random(seed)
    plain = _PLAIN[encoding]
    width = len("a".encode(plain))
    parts: list[str] = []
    pos = _BOM[encoding]
    for i, b in enumerate(BOUNDARIES):
        if kind == "multibyte":
            special, before = _multibyte_special(encoding, i)
        else:
            special, nchars = SPECIALS[kind]
            before = nchars * width
        target = b - before
        assert target > pos and (target - pos) % width == 0, (b, pos)
        filler = ascii_filler(rng, (target - pos) // width)
        parts += [filler, special]
        pos = target + len(special.encode(plain))
    parts.append(ascii_filler(rng, max(0, (size - pos) // width)))
    text = "".join(parts)
    data = text.encode(encoding)
    for i, b in enumerate(BOUNDARIES):
        if kind == "multibyte":
            special, before = _multibyte_special(encoding, i)
        else:
            special, before = SPECIALS[kind][0], SPECIALS[kind][1] * width
        enc = special.encode(plain)
        assert data[b - before : b - before + len(enc)] == enc, (kind, encoding, b)
    return text


def random_bytes(n: int, seed: int = 1) -> bytes:
    return random.Random(seed).randbytes(n)


def mixed_content(seed: int = 3, n: int = 400) -> bytes:
    """Bytes of lines with \\n, \\r\\n and \\r endings, some empty, some long, no trailing
    newline."""
    rng = random.Random(seed)
    text = random_lines(rng, n, endings=("\n", "\r\n", "\r", "\n\n", "\r\r\n"), max_len=120)
    return (text + "tail without newline").encode()


def run(loop, coro, timeout=30):
    """Run ``coro`` on ``loop``, failing after ``timeout`` seconds instead of hanging."""
    return loop.run_until_complete(asyncio.wait_for(coro, timeout))


# 6,000 distinct numbered lines: any offset mistake shows in the data read
LINES = b"".join(b"%05d line\n" % i for i in range(6000))


async def cancel_after(coro, spins: int):
    """Start ``coro`` as a task, let the loop run ``spins`` iterations, cancel it; its
    result if it finished first, else None."""
    task = asyncio.ensure_future(coro)
    for _ in range(spins):
        await asyncio.sleep(0)
    task.cancel()
    try:
        return await task
    except asyncio.CancelledError:
        return None
