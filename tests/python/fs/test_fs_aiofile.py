"""The aiofile-compatible surface of aioxide.fs, compared with the real aiofile package.

Each scenario is a coroutine function taking a namespace (``aioxide.fs`` or ``aiofile``)
and a directory; it returns what it observed plus the bytes of the files it made. The
aioxide.fs run happens on the test's loop, the aiofile run (the oracle) on a fresh stdlib
loop in a separate directory.
"""

from __future__ import annotations

import asyncio
import os
import types

import pytest
from _fs_helpers import afs, random_bytes, run

pytestmark = pytest.mark.timeout(60)

XFS = types.SimpleNamespace(
    AIOFile=afs.AIOFile,
    Reader=afs.Reader,
    LineReader=afs.LineReader,
    Writer=afs.Writer,
    async_open=afs.async_open,
)




def files_in(d):
    return {n: (d / n).read_bytes() for n in sorted(os.listdir(d))}


def compare_with_aiofile(loop, tmp_path, scenario, setup=None):
    """Run ``scenario`` on aioxide.fs (on ``loop``) and on aiofile; assert equal results.
    ``setup(dir)`` creates the input files in each directory first."""
    aiofile = pytest.importorskip("aiofile")
    real = types.SimpleNamespace(
        AIOFile=aiofile.AIOFile,
        Reader=aiofile.Reader,
        LineReader=aiofile.LineReader,
        Writer=aiofile.Writer,
        async_open=aiofile.async_open,
    )
    ours_dir, real_dir = tmp_path / "aioxide", tmp_path / "aiofile"
    for d in (ours_dir, real_dir):
        d.mkdir()
        if setup is not None:
            setup(d)
    want = asyncio.run(asyncio.wait_for(scenario(real, real_dir), 30))
    got = run(loop, scenario(XFS, ours_dir))
    assert got == want
    assert files_in(ours_dir) == files_in(real_dir)
    return got


# -- the documented example ---------------------------------------------------------------


def test_api_example_verbatim(loop, tmp_path):
    from aioxide.fs import AIOFile, LineReader, Writer

    name = str(tmp_path / "hello.txt")

    async def main():
        lines = []
        async with AIOFile(name, "w") as afp:
            writer = Writer(afp)
            await writer("Hello")
            await afp.fsync()
        async with AIOFile(name, "r") as afp:
            async for line in LineReader(afp):
                lines.append(line)
        return lines

    assert run(loop, main()) == ["Hello"]
    with open(name, "rb") as f:
        assert f.read() == b"Hello"


def test_aiofile_readme_example(loop, tmp_path):
    async def scenario(m, d):
        async with m.AIOFile(d / "hello.txt", "w+") as afp:
            await afp.write("Hello ")
            await afp.write("world", offset=7)
            await afp.fsync()
            return await afp.read()

    assert compare_with_aiofile(loop, tmp_path, scenario) == "Hello \x00world"


# -- AIOFile ------------------------------------------------------------------------------


def test_aiofile_binary_offsets(loop, tmp_path):
    async def scenario(m, d):
        out = []
        afp = m.AIOFile(d / "f.bin", "w+b")
        out.append(afp.closed)
        await afp.open()
        out.append(afp.closed)
        out.append(await afp.write(b"hello world", 0))
        out.append(await afp.write(b"XY", 3))
        out.append(await afp.write(b"far", 20))
        out.append(await afp.write(b"", 2))
        out.append(await afp.read())
        out.append(await afp.read(-1, 4))
        out.append(await afp.read(2, 1))
        out.append(await afp.read(10, 100))
        out.append(await afp.read_bytes(3, 2))
        out.append(await afp.write_bytes(b"bytes", 30))
        out.append(await afp.read_bytes(-1, 28))
        out.append(await afp.fsync())
        out.append(await afp.fdsync())
        out.append(await afp.truncate(8))
        out.append(await afp.read())
        out.append(await afp.truncate())
        out.append(await afp.read())
        out.append(isinstance(afp.fileno(), int))
        await afp.close()
        out.append(afp.closed)
        return out

    compare_with_aiofile(loop, tmp_path, scenario)


def test_aiofile_text_offsets(loop, tmp_path):
    async def scenario(m, d):
        out = []
        async with m.AIOFile(d / "f.txt", "w+", encoding="utf-8") as afp:
            out.append(afp.encoding)
            out.append(await afp.write("héllo wörld €\n"))
            out.append(await afp.write("second line\n", 19))
            out.append(await afp.read())
            out.append(await afp.read(3, 0))
            out.append(await afp.read(-1, 8))
            out.append(await afp.read_bytes(4, 0))
            out.append(await afp.read(5, 1000))
        async with m.AIOFile(d / "u16.txt", "w+", encoding="utf-16") as afp:
            out.append(await afp.write("abc€"))
            out.append(await afp.read())
        return out

    compare_with_aiofile(loop, tmp_path, scenario)


def test_aiofile_wrong_data_types(loop, tmp_path):
    async def scenario(m, d):
        out = []
        async with m.AIOFile(d / "f.txt", "w") as afp:
            try:
                await afp.write(b"bytes in text mode")
            except Exception as e:  # noqa: BLE001
                out.append(type(e).__name__)
        async with m.AIOFile(d / "f.bin", "wb") as afp:
            try:
                await afp.write("str in binary mode")
            except Exception as e:  # noqa: BLE001
                out.append(type(e).__name__)
            try:
                await afp.read_bytes(-2)
            except Exception as e:  # noqa: BLE001
                out.append(type(e).__name__)
        return out

    assert compare_with_aiofile(loop, tmp_path, scenario) == ["ValueError"] * 3


@pytest.mark.parametrize(
    "mode",
    ["r", "rb", "r+", "r+b", "w", "wb", "w+", "w+b", "a", "ab", "a+", "a+b", "x", "xb", "x+b"],
)
def test_aiofile_mode_and_properties(loop, tmp_path, mode):
    def setup(d):
        if "x" not in mode:
            (d / "f").write_bytes(b"data")

    async def scenario(m, d):
        afp = m.AIOFile(d / "f", mode)
        before = (afp.closed, afp.encoding, afp.name == str(d / "f"))
        first = await afp.open()
        second = await afp.open()
        # O_CLOEXEC (which aiofile leaves out of ``flags``) is allowed on top
        mode_ = afp.mode._replace(flags=afp.mode.flags & ~os.O_CLOEXEC)
        res = (
            tuple(mode_),
            afp.mode._fields,
            before,
            isinstance(first, int),
            second,
            afp.closed,
            afp.fileno() == first,
        )
        await afp.close()
        return res + (afp.closed,)

    compare_with_aiofile(loop, tmp_path, scenario, setup)


def test_aiofile_await_forms(loop, tmp_path):
    def setup(d):
        (d / "f").write_bytes(b"abc")

    async def scenario(m, d):
        afp = await m.AIOFile(d / "f", "rb")
        data = await afp.read()
        await afp.close()
        f = await m.async_open(d / "f", "rb")
        data2 = await f.read()
        await f.close()
        async with m.async_open(d / "f", "rb") as g:
            data3 = await g.read()
        return data, data2, data3, f.closed, g.closed

    assert compare_with_aiofile(loop, tmp_path, scenario, setup)[:3] == (b"abc",) * 3


def test_aiofile_missing_file(loop, tmp_path):
    async def scenario(m, d):
        out = []
        for mode in ("r", "rb", "r+"):
            try:
                await m.AIOFile(d / "missing", mode).open()
            except FileNotFoundError as e:
                out.append(e.errno)
        return out

    compare_with_aiofile(loop, tmp_path, scenario)


# -- Reader -------------------------------------------------------------------------------

BIN = random_bytes(100_003, seed=21)
TEXT = "".join(f"{i}: héllo wörld € 😀 日本\n" for i in range(2000))


@pytest.mark.parametrize("offset", [0, 5, 99_999, 200_000])
@pytest.mark.parametrize("chunk_size", [None, 1000, 4096, 1 << 20])
def test_reader_binary_chunks(loop, tmp_path, chunk_size, offset):
    def setup(d):
        (d / "f").write_bytes(BIN)

    async def scenario(m, d):
        kw = {} if chunk_size is None else {"chunk_size": chunk_size}
        async with m.AIOFile(d / "f", "rb") as afp:
            return [c async for c in m.Reader(afp, offset=offset, **kw)]

    chunks = compare_with_aiofile(loop, tmp_path, scenario, setup)
    assert b"".join(chunks) == BIN[offset:]
    size = chunk_size or 32768
    assert all(len(c) == size for c in chunks[:-1])


@pytest.mark.parametrize("chunk_size", [10, 4096])
def test_reader_text_chunks(loop, tmp_path, chunk_size):
    """Text chunks: whole characters only, joined they give the text."""
    path = tmp_path / "f.txt"
    path.write_bytes(TEXT.encode())

    async def main():
        async with afs.AIOFile(path, "r") as afp:
            return [c async for c in afs.Reader(afp, chunk_size=chunk_size)]

    chunks = run(loop, main())
    assert "".join(chunks) == TEXT
    assert all(isinstance(c, str) and c for c in chunks)


def test_reader_read_chunk_and_empty_file(loop, tmp_path):
    def setup(d):
        (d / "empty").write_bytes(b"")
        (d / "f").write_bytes(b"0123456789")

    async def scenario(m, d):
        async with m.AIOFile(d / "empty", "rb") as afp:
            empty = [c async for c in m.Reader(afp)]
        async with m.AIOFile(d / "f", "rb") as afp:
            r = m.Reader(afp, chunk_size=4)
            parts = [await r.read_chunk() for _ in range(5)]
        return empty, parts

    assert compare_with_aiofile(loop, tmp_path, scenario, setup) == (
        [],
        [b"0123", b"4567", b"89", b"", b""],
    )


# -- LineReader ---------------------------------------------------------------------------

LINE_CONTENTS = {
    "trailing_newline": "one\ntwo\n\nfour\n",
    "no_trailing_newline": "one\ntwo\n\nfour",
    "single_no_newline": "just one line",
    "empty": "",
    "blank_lines": "\n\n\n",
    "long_lines": "a" * 10_000 + "\n" + "b" * 5000 + "\nshort\n" + "c" * 9000,
    "unicode": TEXT + "tail é",
    "crlf_untranslated": "a\r\nb\r\nc",
}


@pytest.mark.parametrize("binary", [False, True], ids=["text", "binary"])
@pytest.mark.parametrize("chunk_size", [None, 7, 64])
@pytest.mark.parametrize("name", list(LINE_CONTENTS))
def test_line_reader(loop, tmp_path, name, chunk_size, binary):
    content = LINE_CONTENTS[name]

    def setup(d):
        (d / "f").write_bytes(content.encode())

    async def scenario(m, d):
        kw = {} if chunk_size is None else {"chunk_size": chunk_size}
        async with m.AIOFile(d / "f", "rb" if binary else "r") as afp:
            return [line async for line in m.LineReader(afp, **kw)]

    lines = compare_with_aiofile(loop, tmp_path, scenario, setup)
    want = (
        content.splitlines(keepends=True)
        if "\r" not in content
        else [line + "\n" for line in content.split("\n")]
    )
    if "\r" in content:
        want[-1] = want[-1][:-1]
    if binary:
        want = [w.encode() for w in want]
    assert lines == want


@pytest.mark.parametrize("binary", [False, True], ids=["text", "binary"])
def test_line_reader_offset_and_crlf_separator(loop, tmp_path, binary):
    content = "first\r\nsecond\r\nthird line\r\nno end"

    def setup(d):
        (d / "f").write_bytes(content.encode())

    async def scenario(m, d):
        async with m.AIOFile(d / "f", "rb" if binary else "r") as afp:
            crlf = [x async for x in m.LineReader(afp, line_sep="\r\n", chunk_size=5)]
            offset = [x async for x in m.LineReader(afp, offset=7, line_sep="\r\n")]
            return crlf, offset

    crlf, offset = compare_with_aiofile(loop, tmp_path, scenario, setup)
    want = ["first\r\n", "second\r\n", "third line\r\n", "no end"]
    if binary:
        want = [w.encode() for w in want]
    assert crlf == want
    assert offset == want[1:]


# -- Writer -------------------------------------------------------------------------------


@pytest.mark.parametrize("binary", [False, True], ids=["text", "binary"])
def test_writer_offsets(loop, tmp_path, binary):
    def setup(d):
        (d / "f").write_bytes(b"." * 40)

    async def scenario(m, d):
        def data(s):
            return s.encode() if binary else s

        async with m.AIOFile(d / "f", "r+b" if binary else "r+") as afp:
            w = m.Writer(afp, offset=5)
            await w(data("abc"))
            await w(data("é€"))
            await w(b"raw bytes")  # bytes are written as they are, text mode too
            w2 = m.Writer(afp)
            await w2(data("START"))
            w3 = m.Writer(afp, offset=60)
            await asyncio.gather(*(w3(data(str(i))) for i in range(10)))
            await afp.fsync()
            return await afp.read_bytes()

    got = compare_with_aiofile(loop, tmp_path, scenario, setup)
    assert got[:5] == b"START"
    assert got[5:22] == "abcé€".encode() + b"raw bytes"
    assert got[60:] == b"0123456789"


# -- async_open ---------------------------------------------------------------------------


def test_async_open_text(loop, tmp_path):
    async def scenario(m, d):
        out = []
        async with m.async_open(d / "f.txt", "w+") as f:
            out.append(await f.write("héllo\n"))
            out.append(await f.write("line two €\nline three\nno newline"))
            out.append(f.tell())
            f.seek(0)
            out.append(await f.read(3))
            out.append(f.tell())
            out.append(await f.readline())
            out.append(await f.readline())
            out.append(await f.readline(4))
            # (aiofile leaves its offset after the whole chunk it read: no tell() here)
            f.seek(20)
            out.append(await f.read())
            out.append(await f.read())
            out.append(await f.readline())
            f.seek(0)
            out.append([line async for line in f])
            out.append([c async for c in f.iter_chunked(7)])
            await f.flush()
            await f.flush(sync_metadata=True)
            out.append(f.closed)
        out.append(f.closed)
        return out

    compare_with_aiofile(loop, tmp_path, scenario)


def test_async_open_binary(loop, tmp_path):
    data = b"".join(b"%d line\n" % i for i in range(3000)) + b"tail"

    async def scenario(m, d):
        out = []
        async with m.async_open(d / "f.bin", "w+b") as f:
            out.append(await f.write(data))
            out.append(f.tell())
            f.seek(10)
            out.append(await f.read(5))
            out.append(await f.readline())
            out.append(await f.readline(3))
            f.seek(30)  # (aiofile leaves its offset after the whole chunk it read)
            out.append(len(await f.read()))
            out.append(await f.read(10))
            f.seek(0)
            out.append(len([line async for line in f]))
            out.append([len(c) for c in [c async for c in f.iter_chunked(5000)]])
            f.seek(len(data) - 10)
            out.append(await f.read())
        return out

    compare_with_aiofile(loop, tmp_path, scenario)


@pytest.mark.parametrize("binary", [False, True], ids=["text", "binary"])
def test_async_open_readline_crlf_newline(loop, tmp_path, binary):
    def setup(d):
        (d / "f").write_bytes(b"one\r\ntwo\r\nthree")

    async def scenario(m, d):
        nl = b"\r\n" if binary else "\r\n"
        async with m.async_open(d / "f", "rb" if binary else "r") as f:
            return [await f.readline(newline=nl) for _ in range(4)], f.tell()

    lines, pos = compare_with_aiofile(loop, tmp_path, scenario, setup)
    want = ["one\r\n", "two\r\n", "three", ""]
    assert lines == ([w.encode() for w in want] if binary else want)
    assert pos == 15


def test_async_open_append_and_read_modes(loop, tmp_path):
    def setup(d):
        (d / "f").write_bytes(b"existing\n")

    async def scenario(m, d):
        out = []
        async with m.async_open(d / "f", "a") as f:
            out.append(f.tell())
            out.append(await f.write("appended\n"))
            out.append(f.tell())
        async with m.async_open(d / "f", "r") as f:
            out.append([line async for line in f])
        async with m.async_open(d / "f", "rb") as f:
            out.append(await f.read())
            out.append(f.tell())
        return out

    got = compare_with_aiofile(loop, tmp_path, scenario, setup)
    assert got[3] == ["existing\n", "appended\n"]


def test_async_open_text_binary_mismatch(loop, tmp_path):
    async def scenario(m, d):
        out = []
        for mode in ("w", "wb"):
            try:
                f = m.async_open(d / ("f" + mode), mode)
                out.append(type(f).__name__)
            except Exception as e:  # noqa: BLE001
                out.append(type(e).__name__)
        return out

    compare_with_aiofile(loop, tmp_path, scenario)


@pytest.mark.parametrize("binary", [False, True], ids=["text", "binary"])
def test_async_open_readline_with_size_moves_the_position_past_what_it_returned(
    loop, tmp_path, binary
):
    path = tmp_path / "f"
    path.write_bytes(b"first line\nsecond line\n" * 1000)

    async def main():
        async with afs.async_open(path, "rb" if binary else "r") as f:
            a = await f.readline(5)
            pos = f.tell()
            b = await f.readline()
            return a, pos, b, f.tell()

    a, pos, b, end = run(loop, main())
    if binary:
        a, b = a.decode(), b.decode()
    assert (a, pos, b, end) == ("first", 5, " line\n", 11)
