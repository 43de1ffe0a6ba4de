"""aioxide.fs binary files: every operation compared with the same one on built-in open."""

from __future__ import annotations

import os

import pytest
from _fs_helpers import LINES, afs, boundary_text, mixed_content, random_bytes, run

pytestmark = pytest.mark.timeout(60)

CONTENTS = {
    "empty": b"",
    "one_byte": b"x",
    "newlines_only": b"\n\n\n",
    "no_trailing_newline": b"abc\ndef\n\nghi",
    "trailing_newline": b"abc\ndef\n\nghi\n",
    "cr_and_crlf": b"a\rb\r\nc\n\rd\r",
    "mixed": mixed_content(),
    "long_lines": b"x" * 200_000 + b"\n" + b"y" * 70_000 + b"\n" + b"z" * 65536,
    "random": random_bytes(300_000, seed=11),
}
BUFFERINGS = [-1, 0, 7, 4096]





def builtin_chunks(path, size, buffering=-1):
    out = []
    with open(path, "rb", buffering=buffering) as f:
        while True:
            chunk = f.read(size)
            out.append(chunk)
            if not chunk:
                return out


async def async_chunks(f, size):
    out = []
    while True:
        chunk = await f.read(size)
        out.append(chunk)
        if not chunk:
            return out


# -- opening ------------------------------------------------------------------------------


def test_open_is_awaitable_and_an_async_context_manager(loop, tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"hello")

    async def main():
        f = await afs.open(path, "rb")
        try:
            assert not f.closed
            assert await f.read() == b"hello"
        finally:
            await f.close()
        assert f.closed
        async with afs.open(path, "rb") as g:
            assert not g.closed
            assert await g.read() == b"hello"
        assert g.closed
        # str paths as well as PathLike
        async with afs.open(str(path), "rb") as h:
            assert await h.read() == b"hello"

    run(loop, main())


def test_async_with_closes_on_exception(loop, tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"hello")

    async def main():
        with pytest.raises(KeyError):
            async with afs.open(path, "rb") as f:
                raise KeyError("boom")
        assert f.closed

    run(loop, main())


@pytest.mark.parametrize(
    "mode",
    [
        "rb",
        "r+b",
        "br+",
        "wb",
        "w+b",
        "ab",
        "a+b",
        "xb",
        "rb+",
        "r",
        "r+",
        "w",
        "w+",
        "a",
        "a+",
        "x",
        "rt",
        "wt",
        "x+",
    ],
)
def test_file_properties_match_builtin(loop, tmp_path, mode):
    path = tmp_path / "f"
    ref = tmp_path / "ref"
    if "x" not in mode:
        path.write_bytes(b"data\n")
        ref.write_bytes(b"data\n")
    kw = {} if "b" in mode else {"encoding": "utf-8"}
    with open(ref, mode, **kw) as bf:
        want = {
            "readable": bf.readable(),
            "writable": bf.writable(),
            "seekable": bf.seekable(),
            "mode": bf.mode,
        }
        if "b" not in mode:
            want.update(encoding=bf.encoding, errors=bf.errors, newlines=bf.newlines)

    async def main():
        f = await afs.open(path, mode, **kw)
        try:
            got = {
                "readable": f.readable(),
                "writable": f.writable(),
                "seekable": f.seekable(),
                "mode": f.mode,
            }
            if "b" not in mode:
                got.update(encoding=f.encoding, errors=f.errors, newlines=f.newlines)
            assert got == want
            assert f.name == str(path) or os.fspath(f.name) == os.fspath(path)
            assert not f.closed
            fd = f.fileno()
            assert isinstance(fd, int)
            assert os.fstat(fd).st_ino == os.stat(path).st_ino
        finally:
            await f.close()
        assert f.closed

    run(loop, main())


# -- reading ------------------------------------------------------------------------------


@pytest.mark.parametrize("buffering", BUFFERINGS)
@pytest.mark.parametrize("name", list(CONTENTS))
def test_read_all(loop, tmp_path, name, buffering):
    path = tmp_path / "f.bin"
    path.write_bytes(CONTENTS[name])

    async def main():
        async with afs.open(path, "rb", buffering=buffering) as f:
            first = await f.read()
            second = await f.read()
            third = await f.read(-1)
            return first, second, third

    assert run(loop, main()) == (CONTENTS[name], b"", b"")


@pytest.mark.parametrize("buffering", BUFFERINGS)
@pytest.mark.parametrize("size", [13, 4093, 8192, 65537, 1048579])
def test_read_sized_until_eof(loop, tmp_path, size, buffering):
    path = tmp_path / "f.bin"
    data = CONTENTS["random"] + CONTENTS["mixed"]
    path.write_bytes(data if size > 1000 else data[-20_000:])
    want = builtin_chunks(path, size, buffering)

    async def main():
        async with afs.open(path, "rb", buffering=buffering) as f:
            return await async_chunks(f, size)

    assert run(loop, main()) == want


@pytest.mark.parametrize("buffering", BUFFERINGS)
@pytest.mark.parametrize("size", [0, 1, 2, 3, 7])
def test_read_tiny_sizes(loop, tmp_path, size, buffering):
    path = tmp_path / "f.bin"
    path.write_bytes(random_bytes(3001, seed=2))

    async def main():
        async with afs.open(path, "rb", buffering=buffering) as f:
            if size == 0:
                return [await f.read(0), await f.tell()]
            return await async_chunks(f, size)

    if size == 0:
        assert run(loop, main()) == [b"", 0]
    else:
        assert run(loop, main()) == builtin_chunks(path, size, buffering)


def test_read_more_than_the_file(loop, tmp_path):
    path = tmp_path / "f.bin"
    data = random_bytes(5 * 1024 * 1024 + 3, seed=4)
    path.write_bytes(data)

    async def main():
        async with afs.open(path, "rb") as f:
            a = await f.read(10 * 1024 * 1024)
            b = await f.read(10)
        async with afs.open(path, "rb", buffering=0) as f:
            c = await f.read()
        return a, b, c

    assert run(loop, main()) == (data, b"", data)


@pytest.mark.parametrize("buffering", [-1, 0, 16, 4096])
@pytest.mark.parametrize("size", [1000, 100_000, -1])
def test_read1(loop, tmp_path, size, buffering):
    path = tmp_path / "f.bin"
    data = CONTENTS["random"][:40_000]
    path.write_bytes(data)

    async def main():
        chunks = []
        async with afs.open(path, "rb", buffering=buffering) as f:
            while True:
                chunk = await f.read1(size)
                if not chunk:
                    break
                assert isinstance(chunk, bytes)
                if size > 0:
                    assert len(chunk) <= size
                chunks.append(chunk)
                assert await f.tell() == sum(map(len, chunks))
            assert await f.read1(size) == b""
        return b"".join(chunks)

    assert run(loop, main()) == data


def test_read1_on_empty_file(loop, tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"")

    async def main():
        async with afs.open(path, "rb") as f:
            return await f.read1(10), await f.read1()

    assert run(loop, main()) == (b"", b"")


@pytest.mark.parametrize("buffering", BUFFERINGS)
@pytest.mark.parametrize("name", list(CONTENTS))
def test_readline_until_eof(loop, tmp_path, name, buffering):
    path = tmp_path / "f.bin"
    path.write_bytes(CONTENTS[name])
    with open(path, "rb") as bf:
        want = []
        while line := bf.readline():
            want.append(line)

    async def main():
        got = []
        async with afs.open(path, "rb", buffering=buffering) as f:
            while line := await f.readline():
                got.append(line)
            assert await f.readline() == b""
        return got

    assert run(loop, main()) == want


@pytest.mark.parametrize("buffering", [-1, 0])
def test_lines_across_big_buffer_boundaries(loop, tmp_path, buffering):
    """> 1 MiB of lines, with line ends right at every power-of-two offset up to 1 MiB."""
    path = tmp_path / "f.bin"
    path.write_bytes(boundary_text("utf-8", "lf_crlf").encode())
    with open(path, "rb") as bf:
        want = list(bf)
    with open(path, "rb") as bf:
        want_sized = []
        while line := bf.readline(333):
            want_sized.append(line)

    async def main():
        async with afs.open(path, "rb", buffering=buffering) as f:
            lines = [line async for line in f]
            await f.seek(0)
            sized = []
            while line := await f.readline(333):
                sized.append(line)
            return lines, sized

    lines, sized = run(loop, main())
    assert lines == want
    assert sized == want_sized


@pytest.mark.parametrize("size", [0, 1, 5, 64, 100_000])
@pytest.mark.parametrize("name", ["no_trailing_newline", "mixed", "long_lines", "newlines_only"])
def test_readline_with_size(loop, tmp_path, name, size):
    path = tmp_path / "f.bin"
    path.write_bytes(CONTENTS[name])
    with open(path, "rb") as bf:
        want = [bf.readline(size) for _ in range(40)] + [bf.read()]

    async def main():
        async with afs.open(path, "rb") as f:
            return [await f.readline(size) for _ in range(40)] + [await f.read()]

    assert run(loop, main()) == want


@pytest.mark.parametrize("hint", [-1, 0, 1, 50, 10_000])
@pytest.mark.parametrize("name", ["empty", "no_trailing_newline", "mixed", "long_lines"])
def test_readlines(loop, tmp_path, name, hint):
    path = tmp_path / "f.bin"
    path.write_bytes(CONTENTS[name])
    with open(path, "rb") as bf:
        want = [bf.readlines(hint), bf.readlines(hint), bf.read()]

    async def main():
        async with afs.open(path, "rb") as f:
            return [await f.readlines(hint), await f.readlines(hint), await f.read()]

    assert run(loop, main()) == want


@pytest.mark.parametrize("buffering", [-1, 0])
@pytest.mark.parametrize("name", list(CONTENTS))
def test_async_for_matches_builtin_iteration(loop, tmp_path, name, buffering):
    path = tmp_path / "f.bin"
    path.write_bytes(CONTENTS[name])
    with open(path, "rb") as bf:
        want = list(bf)

    async def main():
        async with afs.open(path, "rb", buffering=buffering) as f:
            return [line async for line in f]

    assert run(loop, main()) == want


def test_async_for_after_partial_read_continues_from_position(loop, tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(LINES)
    with open(path, "rb") as bf:
        bf.read(15)
        want = list(bf)

    async def main():
        async with afs.open(path, "rb") as f:
            await f.read(15)
            return [line async for line in f]

    assert run(loop, main()) == want


# -- writing ------------------------------------------------------------------------------


@pytest.mark.parametrize("buffering", BUFFERINGS)
def test_write_and_writelines(loop, tmp_path, buffering):
    pieces = [
        b"",
        b"a",
        random_bytes(5000, 1),
        random_bytes(70_000, 2),
        b"\n",
        random_bytes(1024 * 1024 + 5, 3),
        b"end",
    ]
    lines = [b"one\n", b"", b"two\n", random_bytes(9000, 4)]
    path = tmp_path / "f.bin"

    async def main():
        results = []
        async with afs.open(path, "wb", buffering=buffering) as f:
            for p in pieces:
                results.append(await f.write(p))
            assert await f.writelines(lines) is None
            results.append(await f.write(bytearray(b"bytearray")))
            results.append(await f.write(memoryview(b"..memoryview..")[2:-2]))
            results.append(await f.tell())
        return results

    results = run(loop, main())
    expected = b"".join(pieces) + b"".join(lines) + b"bytearraymemoryview"
    assert results == [len(p) for p in pieces] + [9, 10, len(expected)]
    assert path.read_bytes() == expected


def test_write_str_to_binary_file_is_a_type_error(loop, tmp_path):
    path = tmp_path / "f.bin"
    with open(tmp_path / "ref", "wb") as bf, pytest.raises(TypeError):
        bf.write("text")

    async def main():
        async with afs.open(path, "wb") as f:
            with pytest.raises(TypeError):
                await f.write("text")
            await f.write(b"ok")

    run(loop, main())
    assert path.read_bytes() == b"ok"


def test_unbuffered_writes_reach_the_file_at_once(loop, tmp_path):
    path = tmp_path / "f.bin"

    async def main():
        async with afs.open(path, "wb", buffering=0) as f:
            assert await f.write(b"abc") == 3
            assert path.read_bytes() == b"abc"
            await f.write(b"def")
            assert path.read_bytes() == b"abcdef"

    run(loop, main())


@pytest.mark.parametrize("mode", ["wb", "r+b", "ab", "w"])
def test_flush_fsync_fdatasync(loop, tmp_path, mode):
    path = tmp_path / "f.bin"
    path.write_bytes(b"")
    kw = {} if "b" in mode else {"encoding": "utf-8"}
    data = b"x" * 1000 if "b" in mode else "x" * 1000

    async def main():
        async with afs.open(path, mode, **kw) as f:
            await f.write(data)
            assert await f.flush() is None
            assert path.read_bytes() == b"x" * 1000
            await f.write(data)
            assert await f.fsync() is None
            assert path.read_bytes() == b"x" * 2000
            await f.write(data)
            assert await f.fdatasync() is None
            assert path.read_bytes() == b"x" * 3000

    run(loop, main())
