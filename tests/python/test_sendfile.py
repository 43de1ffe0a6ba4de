"""loop.sock_sendfile over a socketpair."""

from __future__ import annotations

import asyncio
import os
import socket

import pytest

CONTENT = os.urandom(256 * 1024 + 123)


@pytest.fixture
def data_file(tmp_path):
    path = tmp_path / "data.bin"
    path.write_bytes(CONTENT)
    return path


async def read_n(loop, sock, n):
    chunks = []
    while n > 0:
        chunk = await loop.sock_recv(sock, 65536)
        assert chunk, "peer closed early"
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def sendfile(loop, pair, file, expected_len, **kwargs):
    a, b = pair

    async def main():
        return await asyncio.wait_for(
            asyncio.gather(loop.sock_sendfile(a, file, **kwargs), read_n(loop, b, expected_len)),
            10,
        )

    return loop.run_until_complete(main())


def test_sock_sendfile_whole_file(loop, pair, data_file):
    with open(data_file, "rb") as f:
        sent, received = sendfile(loop, pair, f, len(CONTENT))
        assert f.tell() == len(CONTENT)
    assert sent == len(CONTENT)
    assert received == CONTENT


def test_sock_sendfile_offset_and_count(loop, pair, data_file):
    with open(data_file, "rb") as f:
        sent, received = sendfile(loop, pair, f, 5000, offset=1000, count=5000)
        assert f.tell() == 6000
    assert sent == 5000
    assert received == CONTENT[1000:6000]


def test_sock_sendfile_offset_only(loop, pair, data_file):
    offset = len(CONTENT) - 777
    with open(data_file, "rb") as f:
        sent, received = sendfile(loop, pair, f, 777, offset=offset)
    assert sent == 777
    assert received == CONTENT[offset:]


def test_sock_sendfile_count_beyond_end_of_file(loop, pair, data_file):
    offset = len(CONTENT) - 10
    with open(data_file, "rb") as f:
        sent, received = sendfile(loop, pair, f, 10, offset=offset, count=1000)
        assert f.tell() == len(CONTENT)
    assert sent == 10
    assert received == CONTENT[-10:]


def test_sock_sendfile_empty_file(loop, pair, tmp_path):
    path = tmp_path / "empty.bin"
    path.write_bytes(b"")
    with open(path, "rb") as f:
        assert loop.run_until_complete(loop.sock_sendfile(pair[0], f)) == 0


def test_sock_sendfile_without_fallback_on_a_non_file(loop, pair):
    import io

    buf = io.BytesIO(b"not a real file")
    with pytest.raises(asyncio.SendfileNotAvailableError):
        loop.run_until_complete(loop.sock_sendfile(pair[0], buf, fallback=False))


def test_sock_sendfile_fallback_on_a_non_file(loop, pair):
    import io

    buf = io.BytesIO(b"0123456789" * 10)
    sent, received = sendfile(loop, pair, buf, 90, offset=10)
    assert sent == 90
    assert received == (b"0123456789" * 10)[10:]
    assert buf.tell() == 100


def test_sock_sendfile_text_mode_file(loop, pair, data_file):
    with open(data_file, encoding="latin-1") as f:
        with pytest.raises(ValueError, match="file should be opened in binary mode"):
            loop.run_until_complete(loop.sock_sendfile(pair[0], f))


def test_sock_sendfile_datagram_socket(loop, data_file):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setblocking(False)
    try:
        with open(data_file, "rb") as f:
            with pytest.raises(ValueError, match="only SOCK_STREAM type sockets are supported"):
                loop.run_until_complete(loop.sock_sendfile(sock, f))
    finally:
        sock.close()


@pytest.mark.parametrize(
    "kwargs, exc_type, message",
    [
        ({"count": 0}, ValueError, r"count must be a positive integer \(got 0\)"),
        ({"count": -5}, ValueError, r"count must be a positive integer \(got -5\)"),
        ({"count": 1.5}, TypeError, r"count must be a positive integer \(got 1.5\)"),
        ({"offset": -1}, ValueError, r"offset must be a non-negative integer \(got -1\)"),
        ({"offset": "0"}, TypeError, r"offset must be a non-negative integer \(got '0'\)"),
    ],
    ids=["count-zero", "count-negative", "count-float", "offset-negative", "offset-str"],
)
def test_sock_sendfile_bad_parameters(loop, pair, data_file, kwargs, exc_type, message):
    with open(data_file, "rb") as f:
        with pytest.raises(exc_type, match=message):
            loop.run_until_complete(loop.sock_sendfile(pair[0], f, **kwargs))
