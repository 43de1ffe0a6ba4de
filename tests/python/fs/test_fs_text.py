"""aioxide.fs text files: decoding, newline translation and seek/tell against built-in open."""

from __future__ import annotations

import io
import random

import pytest
from _fs_helpers import BOUNDARIES, SPECIALS, afs, boundary_text, compare_ops, run

pytestmark = pytest.mark.timeout(60)

ENCODINGS = ["utf-8", "utf-16", "latin-1", "utf-8-sig"]
NEWLINES = [None, "", "\n", "\r", "\r\n"]
NL_IDS = ["None", "empty", "LF", "CR", "CRLF"]


def _mixed_text(latin: bool) -> str:
    rng = random.Random(5)
    words = ["héllo", "wörld", "ÿes", "plain", "", "x" * 50, "çà"]
    if not latin:
        words += ["€uro", "😀 emoji", "日本語", "\u2028sep"]
    endings = ["\n", "\r\n", "\r", "\n\n", "\r\r\n", "\r\n\r\n"]
    parts = []
    for _ in range(250):
        parts.append(" ".join(rng.choice(words) for _ in range(rng.randint(0, 6))))
        parts.append(rng.choice(endings))
    return "".join(parts) + "last line without newline"


TEXT = {enc: _mixed_text(latin=enc == "latin-1") for enc in ENCODINGS}




def write_encoded(path, encoding, text=None):
    path.write_bytes((TEXT[encoding] if text is None else text).encode(encoding))


# -- reading strategies, each compared with built-in open ------------------------------


def read_builtin(path, strategy, **kw):
    with open(path, "r", **kw) as f:
        if strategy == "read":
            out = [f.read(), f.read()]
        elif strategy == "readline":
            out = []
            while line := f.readline():
                out.append(line)
        elif strategy == "readlines":
            out = f.readlines()
        elif strategy == "iter":
            out = list(f)
        elif strategy.startswith("read_n"):
            n = int(strategy[6:])
            out = []
            while s := f.read(n):
                out.append(s)
        elif strategy.startswith("readline_n"):
            n = int(strategy[10:])
            out = []
            while s := f.readline(n):
                out.append(s)
        else:
            raise AssertionError(strategy)
        return out, f.newlines


async def read_async(path, strategy, **kw):
    async with afs.open(path, "r", **kw) as f:
        if strategy == "read":
            out = [await f.read(), await f.read()]
        elif strategy == "readline":
            out = []
            while line := await f.readline():
                out.append(line)
        elif strategy == "readlines":
            out = await f.readlines()
        elif strategy == "iter":
            out = [line async for line in f]
        elif strategy.startswith("read_n"):
            n = int(strategy[6:])
            out = []
            while s := await f.read(n):
                out.append(s)
        elif strategy.startswith("readline_n"):
            n = int(strategy[10:])
            out = []
            while s := await f.readline(n):
                out.append(s)
        else:
            raise AssertionError(strategy)
        return out, f.newlines


STRATEGIES = [
    "read",
    "readline",
    "readlines",
    "iter",
    "read_n1",
    "read_n7",
    "read_n1000",
    "readline_n1",
    "readline_n5",
]


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("newline", NEWLINES, ids=NL_IDS)
@pytest.mark.parametrize("encoding", ENCODINGS)
def test_read_matches_builtin(loop, tmp_path, encoding, newline, strategy):
    path = tmp_path / "f.txt"
    write_encoded(path, encoding)
    kw = {"encoding": encoding, "newline": newline}
    want = read_builtin(path, strategy, **kw)
    assert run(loop, read_async(path, strategy, **kw)) == want


@pytest.mark.parametrize("strategy", ["read", "iter", "read_n7", "readline_n5"])
@pytest.mark.parametrize("buffering", [1, 2, 16, 4096])
@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_read_with_small_buffers(loop, tmp_path, encoding, buffering, strategy):
    path = tmp_path / "f.txt"
    write_encoded(path, encoding)
    for newline in (None, ""):
        kw = {"encoding": encoding, "newline": newline, "buffering": buffering}
        want = read_builtin(path, strategy, **kw)
        assert run(loop, read_async(path, strategy, **kw)) == want


BOUNDARY_CASES = [
    (encoding, newline, kind)
    for encoding in ENCODINGS
    for newline in NEWLINES
    for kind in [*SPECIALS, "multibyte"]
    # the full matrix on utf-8; the other encodings with universal newlines
    if encoding == "utf-8" or (newline in (None, "") and kind in ("crlf", "cr_alone", "multibyte"))
]


@pytest.mark.parametrize(("encoding", "newline", "kind"), BOUNDARY_CASES)
def test_chunk_boundaries(loop, tmp_path, encoding, newline, kind):
    """Files > 1 MiB with \\r\\n (or \\r, or a multi-byte character) straddling every
    power-of-two offset from 4 KiB to 1 MiB, read whole, line by line and in odd-sized
    pieces."""
    path = tmp_path / "big.txt"
    path.write_bytes(boundary_text(encoding, kind).encode(encoding))
    kw = {"encoding": encoding, "newline": newline}
    strategies = ["read", "iter"]
    if encoding == "utf-8":
        strategies.append("read_n65537")
        if newline in (None, "") and kind in ("crlf", "cr_alone"):
            strategies.append("readline_n100")
    for strategy in strategies:
        want = read_builtin(path, strategy, **kw)
        got = run(loop, read_async(path, strategy, **kw))
        if got != want:
            # a readable failure: the first differing element
            for i, (a, b) in enumerate(zip(got[0], want[0], strict=False)):
                assert a == b, f"{strategy}: element {i} differs"
            assert len(got[0]) == len(want[0]), strategy
            assert got[1] == want[1], f"{strategy}: newlines"


def test_boundary_texts_really_straddle_the_boundaries():
    data = boundary_text("utf-8", "crlf").encode()
    assert len(data) > 1024 * 1024
    for b in (65536, 1048576):
        assert data[b - 1 : b + 1] == b"\r\n"
    assert 1048576 in BOUNDARIES and 65536 in BOUNDARIES


# -- text writing -------------------------------------------------------------------------


def split_points(text, rng):
    cuts = sorted(rng.sample(range(1, len(text)), min(60, len(text) - 1)))
    # also cut between every \r and \n
    cuts = sorted(set(cuts) | {i + 1 for i in range(len(text) - 1) if text[i : i + 2] == "\r\n"})
    return [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]


@pytest.mark.parametrize("newline", NEWLINES, ids=NL_IDS)
@pytest.mark.parametrize("encoding", ENCODINGS)
def test_write_matches_builtin(loop, tmp_path, encoding, newline):
    pieces = split_points(TEXT[encoding], random.Random(1))
    ref = tmp_path / "ref.txt"
    path = tmp_path / "f.txt"
    with open(ref, "w", encoding=encoding, newline=newline) as f:
        want_counts = [f.write(p) for p in pieces]
        f.writelines(["a\n", "b\r\n", "c\r"])

    async def main():
        async with afs.open(path, "w", encoding=encoding, newline=newline) as f:
            counts = [await f.write(p) for p in pieces]
            await f.writelines(["a\n", "b\r\n", "c\r"])
            return counts

    assert run(loop, main()) == want_counts
    assert path.read_bytes() == ref.read_bytes()


@pytest.mark.parametrize("encoding", ["utf-16", "utf-8-sig", "utf-8"])
def test_append_does_not_write_a_second_bom(loop, tmp_path, encoding):
    path = tmp_path / "f.txt"
    ref = tmp_path / "ref.txt"
    for p in (path, ref):
        with open(p, "w", encoding=encoding) as f:
            f.write("first\n")
    with open(ref, "a", encoding=encoding) as f:
        f.write("second\n")

    async def main():
        async with afs.open(path, "a", encoding=encoding) as f:
            await f.write("second\n")

    run(loop, main())
    assert path.read_bytes() == ref.read_bytes()
    assert path.read_text(encoding=encoding) == "first\nsecond\n"


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_round_trip_through_aioxide(loop, tmp_path, encoding):
    path = tmp_path / "f.txt"
    text = TEXT[encoding]

    async def main():
        async with afs.open(path, "w", encoding=encoding, newline="") as f:
            await f.write(text)
        async with afs.open(path, "r", encoding=encoding, newline="") as f:
            return await f.read()

    assert run(loop, main()) == text
    assert path.read_bytes() == text.encode(encoding)


def test_line_buffering_flushes_at_newline(loop, tmp_path):
    path = tmp_path / "f.txt"

    async def main():
        async with afs.open(path, "w", buffering=1, encoding="utf-8") as f:
            await f.write("abc")
            await f.write("def\nghi")
            assert path.read_bytes().startswith(b"abcdef\n")

    run(loop, main())
    assert path.read_bytes() == b"abcdef\nghi"


# -- decoding errors ----------------------------------------------------------------------

BAD_UTF8 = (
    b"good line\n" + b"\xff\xfe bad \xc3\x28 \n" + b"more \xed\xa0\x80 text\n" + b"tail \xe2\x82"
)


def test_strict_decoding_error_like_builtin(loop, tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes(BAD_UTF8)
    with open(path, encoding="utf-8") as f, pytest.raises(UnicodeDecodeError) as want:
        f.read()

    async def main():
        async with afs.open(path, encoding="utf-8") as f:
            with pytest.raises(UnicodeDecodeError) as got:
                await f.read()
        async with afs.open(path, encoding="utf-8", errors="strict") as f:
            with pytest.raises(UnicodeDecodeError):
                await f.read()
        return got

    got = run(loop, main())
    assert got.value.encoding == want.value.encoding
    assert got.value.reason == want.value.reason


def test_truncated_character_at_eof_is_an_error(loop, tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"abc\xe2\x82")

    async def main():
        async with afs.open(path, encoding="utf-8") as f:
            with pytest.raises(UnicodeDecodeError):
                await f.read()

    run(loop, main())


@pytest.mark.parametrize("strategy", ["read", "readline", "iter", "read_n3"])
@pytest.mark.parametrize("errors", ["replace", "surrogateescape", "ignore", "backslashreplace"])
def test_decoding_error_handlers(loop, tmp_path, errors, strategy):
    path = tmp_path / "bad.txt"
    path.write_bytes(BAD_UTF8 * 3)
    kw = {"encoding": "utf-8", "errors": errors}
    want = read_builtin(path, strategy, **kw)
    got = run(loop, read_async(path, strategy, **kw))
    assert got == want

    async def errors_attr():
        async with afs.open(path, **kw) as f:
            return f.errors

    assert run(loop, errors_attr()) == errors


def test_encoding_errors_on_write(loop, tmp_path):
    path = tmp_path / "f.txt"

    async def main():
        async with afs.open(path, "w", encoding="latin-1") as f:
            await f.write("ok ")
            with pytest.raises(UnicodeEncodeError):
                await f.write("€")
        async with afs.open(tmp_path / "r.txt", "w", encoding="latin-1", errors="replace") as f:
            await f.write("a€b")
        async with afs.open(
            tmp_path / "s.txt", "w", encoding="utf-8", errors="surrogateescape"
        ) as f:
            await f.write("x\udcff\udc80y")

    run(loop, main())
    assert path.read_bytes() == b"ok "
    assert (tmp_path / "r.txt").read_bytes() == b"a?b"
    assert (tmp_path / "s.txt").read_bytes() == b"x\xff\x80y"


# -- seek/tell ----------------------------------------------------------------------------


@pytest.mark.parametrize("newline", [None, "", "\n", "\r\n"], ids=["None", "empty", "LF", "CRLF"])
@pytest.mark.parametrize("encoding", ENCODINGS)
def test_tell_seek_round_trip_by_lines(loop, tmp_path, encoding, newline):
    path = tmp_path / "f.txt"
    write_encoded(path, encoding)
    kw = {"encoding": encoding, "newline": newline}
    with open(path, **kw) as f:
        want_lines = f.readlines()

    async def main():
        records = []
        async with afs.open(path, **kw) as f:
            while True:
                cookie = await f.tell()
                assert isinstance(cookie, int)
                line = await f.readline()
                records.append((cookie, line))
                if not line:
                    break
            assert [line for _, line in records[:-1]] == want_lines
            sample = random.Random(3).sample(records, min(60, len(records)))
            for cookie, line in sample:
                assert await f.seek(cookie) == cookie
                assert await f.readline() == line
                assert await f.seek(cookie) == cookie
                assert await f.tell() == cookie
        return records

    records = run(loop, main())
    if encoding in ("utf-8", "latin-1") and newline == "\n":
        # lines split at \n only, untranslated: the cookie is the byte offset
        offset = 0
        for cookie, line in records:
            assert cookie == offset
            offset += len(line.encode(encoding))


@pytest.mark.parametrize("n", [1, 3, 7, 100, 8193])
@pytest.mark.parametrize("newline", [None, ""], ids=["None", "empty"])
@pytest.mark.parametrize("encoding", ENCODINGS)
def test_tell_seek_round_trip_by_chars(loop, tmp_path, encoding, newline, n):
    """tell(); read(n); seek(cookie); read(n) again gives the same text, at every step."""
    path = tmp_path / "f.txt"
    text = TEXT[encoding][:1000] if n < 50 else TEXT[encoding]
    write_encoded(path, encoding, text)
    kw = {"encoding": encoding, "newline": newline}
    with open(path, **kw) as f:
        want = f.read()

    async def main():
        pieces = []
        async with afs.open(path, **kw) as f:
            while True:
                cookie = await f.tell()
                s = await f.read(n)
                assert len(s) <= n
                assert await f.seek(cookie) == cookie
                assert await f.read(n) == s
                pieces.append(s)
                if not s:
                    break
        return "".join(pieces)

    assert run(loop, main()) == want


def test_tell_matches_builtin_for_utf8(loop, tmp_path):
    path = tmp_path / "f.txt"
    text = "héllo\nwörld\nplain ascii\n€uro 😀\nend"
    path.write_bytes(text.encode())
    ops = [
        ("tell",),
        ("read", 3),
        ("tell",),
        ("readline",),
        ("tell",),
        ("readline",),
        ("tell",),
        ("read", 7),
        ("tell",),
        ("readline",),
        ("tell",),
        ("read",),
        ("tell",),
        ("seek", 0),
        ("seek", 0, 2),
        ("seek", 0, 1),
        ("seek", 7),
        ("read", 2),
        ("tell",),
        ("seek", 3, 1),
        ("seek", -1, 2),
        ("seek", 0, 0),
        ("read",),
    ]
    compare_ops(loop, path, "r", ops, initial=text.encode(), encoding="utf-8")


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_text_read_write_sequence_matches_builtin(loop, tmp_path, encoding):
    text = "".join(f"line {i} é\n" for i in range(3000))
    ops = [
        ("readline",),
        ("read", 5),
        ("tell",),
        ("seek", 0, 2),
        ("write", "appended é\n"),
        ("tell",),
        ("seek", 0),
        ("readline",),
        ("readline", 3),
        ("seek", 0),
        ("truncate", None),
        ("read", 10),
        ("seek", 0, 2),
        ("tell",),
        ("write", "x\ny"),
        ("seek", 0),
        ("read",),
        ("seek", 3, 1),
        ("seek", 1, 2),
        ("flush",),
    ]
    # cookies are opaque except for utf-8 and latin-1
    opaque = () if encoding in ("utf-8", "latin-1") else ("tell", "seek")
    compare_ops(
        loop,
        tmp_path / "f.txt",
        "r+",
        ops,
        initial=text.encode(encoding),
        opaque=opaque,
        encoding=encoding,
    )
    compare_ops(
        loop,
        tmp_path / "g.txt",
        "w+",
        [("write", text), *ops],
        initial=None,
        opaque=opaque,
        encoding=encoding,
    )
    compare_ops(
        loop,
        tmp_path / "h.txt",
        "a+",
        [("tell",), ("write", "more\n"), ("seek", 0), ("read", 20), ("readlines",)],
        initial=text.encode(encoding),
        opaque=opaque,
        encoding=encoding,
    )


def test_nonzero_relative_seek_in_text_mode_is_unsupported(loop, tmp_path):
    path = tmp_path / "f.txt"
    path.write_bytes(b"hello\nworld\n")

    async def main():
        async with afs.open(path, encoding="utf-8") as f:
            with pytest.raises(io.UnsupportedOperation):
                await f.seek(1, 1)
            with pytest.raises(io.UnsupportedOperation):
                await f.seek(-1, 2)
            assert await f.seek(0, 2) == 12
            assert await f.seek(0, 1) == 12
            assert await f.read() == ""
            assert await f.seek(0) == 0
            return await f.read()

    assert run(loop, main()) == "hello\nworld\n"


@pytest.mark.parametrize("newline", NEWLINES, ids=NL_IDS)
def test_async_for_equals_builtin_iteration(loop, tmp_path, newline):
    path = tmp_path / "f.txt"
    write_encoded(path, "utf-8")
    with open(path, encoding="utf-8", newline=newline) as f:
        want = list(f)

    async def main():
        async with afs.open(path, encoding="utf-8", newline=newline) as f:
            return [line async for line in f]

    assert run(loop, main()) == want


def test_newlines_attribute_like_builtin(loop, tmp_path):
    cases = {
        "lf": b"a\nb\n",
        "crlf": b"a\r\nb\r\n",
        "cr": b"a\rb",
        "all": b"a\rb\nc\r\n",
        "none": b"abc",
    }
    for name, data in cases.items():
        path = tmp_path / f"{name}.txt"
        path.write_bytes(data)
        with open(path, encoding="utf-8") as f:
            before = f.newlines
            f.read()
            want = (before, f.newlines)

        async def main(path=path):
            async with afs.open(path, encoding="utf-8") as f:
                before = f.newlines
                await f.read()
                return before, f.newlines

        assert run(loop, main()) == want, name


def test_write_bytes_to_text_file_is_a_type_error(loop, tmp_path):
    path = tmp_path / "f.txt"

    async def main():
        async with afs.open(path, "w", encoding="utf-8") as f:
            with pytest.raises(TypeError):
                await f.write(b"bytes")
            await f.write("ok")

    run(loop, main())
    assert path.read_bytes() == b"ok"
