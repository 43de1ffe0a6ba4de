"""aioxide.fs path helpers compared with their os / pathlib equivalents, and the backend."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest
from _fs_helpers import afs, random_bytes, run

pytestmark = pytest.mark.timeout(60)




# -- read/write whole files --------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 4095, 65536, 1024 * 1024 + 17])
def test_read_bytes(loop, tmp_path, size):
    path = tmp_path / "f.bin"
    data = random_bytes(size, seed=size)
    path.write_bytes(data)

    async def main():
        return await afs.read_bytes(path), await afs.read_bytes(str(path))

    assert run(loop, main()) == (data, data)


@pytest.mark.parametrize("size", [0, 1, 4095, 65536, 1024 * 1024 + 17])
def test_write_bytes(loop, tmp_path, size):
    path = tmp_path / "f.bin"
    path.write_bytes(b"previous content, longer than some of the new ones" * 100)
    data = random_bytes(size, seed=size)

    async def main():
        return await afs.write_bytes(path, data)

    assert run(loop, main()) == size
    assert path.read_bytes() == data

    async def bytearray_and_str_path():
        return await afs.write_bytes(str(path), bytearray(b"ba"))

    assert run(loop, bytearray_and_str_path()) == 2
    assert path.read_bytes() == b"ba"


TEXTS = {
    "ascii": "hello\nworld\n",
    "mixed_newlines": "a\nb\r\nc\rd\r\n\re",
    "unicode": "héllo wörld € 😀 日本語\n" * 1000,
    "empty": "",
}


@pytest.mark.parametrize("newline", [None, "", "\n", "\r", "\r\n"])
@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "utf-8-sig"])
@pytest.mark.parametrize("name", list(TEXTS))
def test_read_text_and_write_text_like_open(loop, tmp_path, name, encoding, newline):
    text = TEXTS[name]
    ref = tmp_path / "ref.txt"
    path = tmp_path / "f.txt"
    with open(ref, "w", encoding=encoding, newline=newline) as f:
        want_count = f.write(text)
    with open(ref, encoding=encoding, newline=newline) as f:
        want_text = f.read()

    async def main():
        count = await afs.write_text(path, text, encoding=encoding, newline=newline)
        return count, await afs.read_text(path, encoding=encoding, newline=newline)

    assert run(loop, main()) == (want_count, want_text)
    assert path.read_bytes() == ref.read_bytes()


def test_read_text_default_newline_is_universal_like_pathlib(loop, tmp_path):
    path = tmp_path / "f.txt"
    path.write_bytes("a\r\nb\rc\n€".encode())

    async def main():
        return await afs.read_text(path, encoding="utf-8"), await afs.read_text(str(path), "utf-8")

    want = path.read_text(encoding="utf-8")
    assert run(loop, main()) == (want, want)


def test_read_text_errors(loop, tmp_path):
    path = tmp_path / "f.txt"
    path.write_bytes(b"ok \xff\xfe bad \xc3")
    want = path.read_text(encoding="utf-8", errors="replace")

    async def main():
        with pytest.raises(UnicodeDecodeError):
            await afs.read_text(path, encoding="utf-8")
        with pytest.raises(UnicodeDecodeError):
            await afs.read_text(path, encoding="utf-8", errors="strict")
        replaced = await afs.read_text(path, encoding="utf-8", errors="replace")
        escaped = await afs.read_text(path, encoding="utf-8", errors="surrogateescape")
        return replaced, escaped

    replaced, escaped = run(loop, main())
    assert replaced == want
    assert escaped.encode("utf-8", "surrogateescape") == path.read_bytes()


def test_write_text_errors(loop, tmp_path):
    path = tmp_path / "f.txt"

    async def main():
        with pytest.raises(UnicodeEncodeError):
            await afs.write_text(path, "€", encoding="latin-1")
        n = await afs.write_text(path, "a€b", encoding="latin-1", errors="replace")
        return n

    assert run(loop, main()) == 3
    assert path.read_bytes() == b"a?b"


def test_whole_file_helpers_errors(loop, tmp_path):
    (tmp_path / "file").write_bytes(b"")

    async def main():
        with pytest.raises(FileNotFoundError):
            await afs.read_bytes(tmp_path / "missing")
        with pytest.raises(FileNotFoundError):
            await afs.read_text(tmp_path / "missing", encoding="utf-8")
        with pytest.raises(IsADirectoryError):
            await afs.read_bytes(tmp_path)
        with pytest.raises(IsADirectoryError):
            await afs.write_bytes(tmp_path, b"x")
        with pytest.raises(IsADirectoryError):
            await afs.write_text(tmp_path, "x", encoding="utf-8")
        with pytest.raises(FileNotFoundError):
            await afs.write_bytes(tmp_path / "no" / "dir", b"x")
        with pytest.raises(NotADirectoryError):
            await afs.write_text(tmp_path / "file" / "x", "x", encoding="utf-8")
        with pytest.raises(TypeError):
            await afs.write_bytes(tmp_path / "t", "str is not bytes")
        with pytest.raises(TypeError):
            await afs.write_text(tmp_path / "t", b"bytes are not str", encoding="utf-8")

    run(loop, main())


# -- stat / exists ------------------------------------------------------------------------

STAT_FIELDS = [
    "st_mode",
    "st_ino",
    "st_dev",
    "st_nlink",
    "st_uid",
    "st_gid",
    "st_size",
    "st_mtime",
    "st_mtime_ns",
    "st_ctime_ns",
    "st_blocks",
    "st_blksize",
]


def test_stat_matches_os_stat(loop, tmp_path):
    f = tmp_path / "f"
    f.write_bytes(b"x" * 12345)
    link = tmp_path / "link"
    link.symlink_to(f)
    d = tmp_path / "d"
    d.mkdir()

    async def main():
        return [
            await afs.stat(f),
            await afs.stat(str(f)),
            await afs.stat(d),
            await afs.stat(link),
            await afs.stat(link, follow_symlinks=False),
        ]

    got = run(loop, main())
    want = [os.stat(f), os.stat(f), os.stat(d), os.stat(link), os.lstat(link)]
    for g, w in zip(got, want, strict=True):
        assert isinstance(g, os.stat_result)
        for field in STAT_FIELDS:
            assert getattr(g, field) == getattr(w, field), field
        assert tuple(g) == tuple(w)


def test_stat_errors(loop, tmp_path):
    (tmp_path / "broken").symlink_to(tmp_path / "nowhere")
    (tmp_path / "file").write_bytes(b"")

    async def main():
        with pytest.raises(FileNotFoundError) as e:
            await afs.stat(tmp_path / "missing")
        assert os.fspath(e.value.filename) == os.fspath(tmp_path / "missing")
        with pytest.raises(FileNotFoundError):
            await afs.stat(tmp_path / "broken")
        with pytest.raises(NotADirectoryError):
            await afs.stat(tmp_path / "file" / "x")
        return await afs.stat(tmp_path / "broken", follow_symlinks=False)

    st = run(loop, main())
    assert st.st_ino == os.lstat(tmp_path / "broken").st_ino


def test_exists(loop, tmp_path):
    (tmp_path / "file").write_bytes(b"")
    (tmp_path / "dir").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "file")
    (tmp_path / "broken").symlink_to(tmp_path / "nowhere")
    names = ["file", "dir", "link", "broken", "missing", "file/x"]

    async def main():
        return [await afs.exists(tmp_path / n) for n in names] + [
            await afs.exists(str(tmp_path / "file"))
        ]

    want = [os.path.exists(tmp_path / n) for n in names] + [True]
    assert run(loop, main()) == want
    assert want[:5] == [True, True, True, False, False]


# -- remove / rename / makedirs / listdir ------------------------------------------------


def test_remove(loop, tmp_path):
    (tmp_path / "a").write_bytes(b"")
    (tmp_path / "b").write_bytes(b"")
    (tmp_path / "link").symlink_to(tmp_path / "b")
    (tmp_path / "dir").mkdir()

    async def main():
        await afs.remove(tmp_path / "a")
        await afs.remove(str(tmp_path / "link"))  # removes the link, not its target
        with pytest.raises(FileNotFoundError):
            await afs.remove(tmp_path / "a")
        with pytest.raises(IsADirectoryError):
            await afs.remove(tmp_path / "dir")

    run(loop, main())
    assert sorted(os.listdir(tmp_path)) == ["b", "dir"]
    # the same errors as os.remove
    with pytest.raises(FileNotFoundError):
        os.remove(tmp_path / "a")
    with pytest.raises(IsADirectoryError):
        os.remove(tmp_path / "dir")


def test_rename(loop, tmp_path):
    (tmp_path / "a").write_bytes(b"A")
    (tmp_path / "b").write_bytes(b"B")
    (tmp_path / "d").mkdir()

    async def main():
        await afs.rename(tmp_path / "a", tmp_path / "c")
        await afs.rename(str(tmp_path / "c"), str(tmp_path / "b"))  # replaces b
        await afs.rename(tmp_path / "d", tmp_path / "e")
        with pytest.raises(FileNotFoundError):
            await afs.rename(tmp_path / "missing", tmp_path / "x")
        with pytest.raises(FileNotFoundError):
            await afs.rename(tmp_path / "b", tmp_path / "no" / "dir")
        with pytest.raises(IsADirectoryError):
            await afs.rename(tmp_path / "b", tmp_path / "e")

    run(loop, main())
    assert sorted(os.listdir(tmp_path)) == ["b", "e"]
    assert (tmp_path / "b").read_bytes() == b"A"


def test_makedirs(loop, tmp_path):
    async def main():
        await afs.makedirs(tmp_path / "a" / "b" / "c")
        await afs.makedirs(str(tmp_path / "x"))
        await afs.makedirs(tmp_path / "a" / "b" / "c", exist_ok=True)
        with pytest.raises(FileExistsError):
            await afs.makedirs(tmp_path / "a" / "b" / "c")
        with pytest.raises(FileExistsError):
            await afs.makedirs(tmp_path / "a" / "b")
        (tmp_path / "file").write_bytes(b"")
        with pytest.raises(FileExistsError):
            await afs.makedirs(tmp_path / "file", exist_ok=True)
        with pytest.raises(NotADirectoryError):
            await afs.makedirs(tmp_path / "file" / "sub")
        await afs.makedirs(tmp_path / "m" / "n", mode=0o700)

    run(loop, main())
    assert (tmp_path / "a" / "b" / "c").is_dir()
    assert (tmp_path / "x").is_dir()
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(tmp_path / "m" / "n").st_mode & 0o777 == 0o700 & ~umask
    # the same errors as os.makedirs
    with pytest.raises(FileExistsError):
        os.makedirs(tmp_path / "file", exist_ok=True)
    with pytest.raises(NotADirectoryError):
        os.makedirs(tmp_path / "file" / "sub")


def test_listdir(loop, tmp_path, monkeypatch):
    names = ["a", "b.txt", "ünïcode", "with space", ".hidden", "dir"]
    for n in names[:-1]:
        (tmp_path / n).write_bytes(b"")
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "inner").write_bytes(b"")
    (tmp_path / "empty").mkdir()
    monkeypatch.chdir(tmp_path)

    async def main():
        return [
            await afs.listdir(tmp_path),
            await afs.listdir(str(tmp_path)),
            await afs.listdir(os.fsencode(tmp_path)),
            await afs.listdir(),
            await afs.listdir("dir"),
            await afs.listdir(tmp_path / "empty"),
        ]

    got = run(loop, main())
    want = [
        os.listdir(tmp_path),
        os.listdir(str(tmp_path)),
        os.listdir(os.fsencode(tmp_path)),
        os.listdir(),
        os.listdir("dir"),
        [],
    ]
    assert [sorted(x) for x in got] == [sorted(x) for x in want]
    assert all(isinstance(n, bytes) for n in got[2])
    assert all(isinstance(n, str) for n in got[0])


def test_listdir_errors(loop, tmp_path):
    (tmp_path / "file").write_bytes(b"")

    async def main():
        with pytest.raises(FileNotFoundError):
            await afs.listdir(tmp_path / "missing")
        with pytest.raises(NotADirectoryError):
            await afs.listdir(tmp_path / "file")

    run(loop, main())


def test_helpers_on_many_files(loop, tmp_path):
    async def main():
        await afs.makedirs(tmp_path / "many")
        await asyncio.gather(
            *(afs.write_bytes(tmp_path / "many" / f"{i}", b"%d" % i) for i in range(200))
        )
        names = await afs.listdir(tmp_path / "many")
        contents = await asyncio.gather(*(afs.read_bytes(tmp_path / "many" / n) for n in names))
        stats = await asyncio.gather(*(afs.stat(tmp_path / "many" / n) for n in names))
        await asyncio.gather(*(afs.remove(tmp_path / "many" / n) for n in names[:100]))
        return names, contents, stats

    names, contents, stats = run(loop, main())
    assert sorted(names, key=int) == [str(i) for i in range(200)]
    assert contents == [n.encode() for n in names]
    assert [s.st_size for s in stats] == [len(n) for n in names]
    assert len(os.listdir(tmp_path / "many")) == 100


# -- backend ------------------------------------------------------------------------------


def test_backend_name():
    assert afs.backend() in ("io_uring", "threads")


@pytest.mark.timeout(60)
@pytest.mark.parametrize("requested", ["threads", "io_uring"])
def test_backend_can_be_chosen_by_environment(tmp_path, requested):
    script = (
        "import asyncio, sys, aioxide, aioxide.fs as afs\n"
        "async def main(p):\n"
        "    await afs.write_bytes(p, b'x' * 100000)\n"
        "    async with afs.open(p, 'rb') as f:\n"
        "        assert await f.read() == b'x' * 100000\n"
        "for new in (aioxide.new_event_loop, asyncio.new_event_loop):\n"
        "    loop = new()\n"
        "    loop.run_until_complete(main(sys.argv[1]))\n"
        "    loop.close()\n"
        "print(afs.backend())\n"
    )
    env = dict(os.environ, AIOXIDE_FS_BACKEND=requested)
    out = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "f")],
        env=env,
        capture_output=True,
        text=True,
        timeout=50,
    )
    assert out.returncode == 0, out.stderr
    if requested == "threads":
        assert out.stdout.strip() == "threads"
    else:
        assert out.stdout.strip() in ("io_uring", "threads")
