"""loop.sendfile(transport, file, offset, count, fallback)."""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import socket

import pytest
from _transport_helpers import TIMEOUT, Recorder, run

CONTENT = os.urandom(1024 * 1024 + 321)


@pytest.fixture
def data_file(tmp_path):
    path = tmp_path / "data.bin"
    path.write_bytes(CONTENT)
    return path


async def tcp_pair(loop, factory=None):
    """A client transport and the raw socket it is connected to."""
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(1)
    lsock.setblocking(False)
    with lsock:
        tr, proto = await loop.create_connection(factory or (lambda: Recorder(loop)),
                                                 *lsock.getsockname())
        peer, _ = await loop.sock_accept(lsock)
    peer.setblocking(False)
    return tr, proto, peer


async def read_all(loop, sock):
    chunks = []
    while chunk := await loop.sock_recv(sock, 1 << 16):
        chunks.append(chunk)
    return b"".join(chunks)


async def send_and_collect(loop, tr, proto, peer, file, **kwargs):
    reader = asyncio.ensure_future(read_all(loop, peer))
    sent = await loop.sendfile(tr, file, **kwargs)
    tr.close()
    await asyncio.wait_for(proto.lost, TIMEOUT)
    return sent, await asyncio.wait_for(reader, TIMEOUT)


def test_sendfile_whole_file(loop, data_file):
    async def main():
        tr, proto, peer = await tcp_pair(loop)
        with peer, open(data_file, "rb") as f:
            sent, received = await send_and_collect(loop, tr, proto, peer, f)
            assert f.tell() == len(CONTENT)
        assert sent == len(CONTENT)
        assert received == CONTENT

    run(loop, main())


@pytest.mark.parametrize("offset, count", [
    (1000, 5000),
    (0, 1),
    (len(CONTENT) - 777, None),
    (len(CONTENT) - 10, 1000),
    (12345, 65536 * 3 + 1),
], ids=["offset-count", "one-byte", "offset-only", "count-past-eof", "several-blocks"])
def test_sendfile_offset_and_count(loop, data_file, offset, count):
    expected = CONTENT[offset:offset + count] if count else CONTENT[offset:]

    async def main():
        tr, proto, peer = await tcp_pair(loop)
        with peer, open(data_file, "rb") as f:
            sent, received = await send_and_collect(loop, tr, proto, peer, f,
                                                    offset=offset, count=count)
            assert f.tell() == offset + len(expected)
        assert sent == len(expected)
        assert received == expected

    run(loop, main())


def test_sendfile_empty_file(loop, tmp_path):
    path = tmp_path / "empty.bin"
    path.write_bytes(b"")

    async def main():
        tr, proto, peer = await tcp_pair(loop)
        with peer, open(path, "rb") as f:
            sent, received = await send_and_collect(loop, tr, proto, peer, f)
        assert sent == 0
        assert received == b""

    run(loop, main())


def test_sendfile_keeps_order_with_writes(loop, data_file):
    async def main():
        tr, proto, peer = await tcp_pair(loop)
        with peer, open(data_file, "rb") as f:
            tr.write(b"HEAD" * 1000)
            reader = asyncio.ensure_future(read_all(loop, peer))
            sent = await loop.sendfile(tr, f)
            tr.write(b"TAIL")
            tr.close()
            received = await asyncio.wait_for(reader, TIMEOUT)
        assert sent == len(CONTENT)
        assert received == b"HEAD" * 1000 + CONTENT + b"TAIL"

    run(loop, main())


def test_transport_reads_after_sendfile(loop, data_file):
    async def main():
        tr, proto, peer = await tcp_pair(loop)
        with peer, open(data_file, "rb") as f:
            reader = asyncio.ensure_future(loop.sock_recv(peer, 1))
            await loop.sendfile(tr, f, count=100)
            assert tr.is_reading()
            await loop.sock_sendall(peer, b"still reading")
            assert await proto.received(13) == b"still reading"
            await reader
            tr.close()
            await asyncio.wait_for(proto.lost, TIMEOUT)

    run(loop, main())


def test_sendfile_on_a_server_transport(loop, data_file):
    class Sender(Recorder):
        def connection_made(self, transport):
            super().connection_made(transport)
            self.task = self.loop.create_task(self.send())

        async def send(self):
            with open(data_file, "rb") as f:
                n = await self.loop.sendfile(self.transport, f)
            self.transport.close()
            return n

    async def main():
        protos = []

        def factory():
            protos.append(Sender(loop))
            return protos[-1]

        server = await loop.create_server(factory, "127.0.0.1", 0)
        async with server:
            client = socket.socket()
            client.setblocking(False)
            with client:
                await loop.sock_connect(client, server.sockets[0].getsockname())
                received = await asyncio.wait_for(read_all(loop, client), TIMEOUT)
            assert received == CONTENT
            assert await protos[0].task == len(CONTENT)

    run(loop, main())


def test_sendfile_over_unix_transport(loop, data_file, unix_path):
    async def main():
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as lsock:
            lsock.bind(unix_path)
            lsock.listen(1)
            lsock.setblocking(False)
            tr, proto = await loop.create_unix_connection(lambda: Recorder(loop), unix_path)
            peer, _ = await loop.sock_accept(lsock)
        peer.setblocking(False)
        with peer, open(data_file, "rb") as f:
            sent, received = await send_and_collect(loop, tr, proto, peer, f)
        assert sent == len(CONTENT)
        assert received == CONTENT

    run(loop, main())


def test_sendfile_non_regular_file_uses_the_fallback(loop):
    async def main():
        tr, proto, peer = await tcp_pair(loop)
        with peer:
            f = io.BytesIO(CONTENT)
            sent, received = await send_and_collect(loop, tr, proto, peer, f,
                                                    offset=10, count=100000)
            assert f.tell() == 100010
        assert sent == 100000
        assert received == CONTENT[10:100010]

    run(loop, main())


def test_sendfile_non_regular_file_without_fallback(loop):
    async def main():
        tr, proto, peer = await tcp_pair(loop)
        with peer:
            with pytest.raises(asyncio.SendfileNotAvailableError):
                await loop.sendfile(tr, io.BytesIO(CONTENT), fallback=False)
            # the transport is intact
            tr.write(b"after")
            assert await loop.sock_recv(peer, 100) == b"after"
            tr.close()
            await asyncio.wait_for(proto.lost, TIMEOUT)

    run(loop, main())


def test_sendfile_unsupported_transport(loop, data_file):
    class Dummy(asyncio.Transport):
        def is_closing(self):
            return False

    async def main():
        transport = Dummy()
        with open(data_file, "rb") as f:
            for fallback in (True, False):
                with pytest.raises(RuntimeError) as info:
                    await loop.sendfile(transport, f, fallback=fallback)
                assert type(info.value) is RuntimeError
                assert str(info.value) == f"sendfile is not supported for transport {transport!r}"

            tr, proto = await loop.create_datagram_endpoint(
                asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0))
            with pytest.raises(RuntimeError) as info:
                await loop.sendfile(tr, f)
            assert str(info.value).startswith("sendfile is not supported for transport")
            tr.close()

    run(loop, main())


def test_sendfile_on_closing_transport(loop, data_file):
    async def main():
        tr, proto, peer = await tcp_pair(loop)
        with peer, open(data_file, "rb") as f:
            tr.close()
            with pytest.raises(RuntimeError) as info:
                await loop.sendfile(tr, f)
            assert str(info.value) == "Transport is closing"
            await asyncio.wait_for(proto.lost, TIMEOUT)

    run(loop, main())


def test_sendfile_text_file(loop, data_file):
    async def main():
        tr, proto, peer = await tcp_pair(loop)
        with peer, open(data_file, encoding="latin-1") as f:
            with pytest.raises(ValueError) as info:
                await loop.sendfile(tr, f)
            assert str(info.value) == "file should be opened in binary mode"
            tr.write(b"ok")
            assert await loop.sock_recv(peer, 100) == b"ok"
            tr.close()
            await asyncio.wait_for(proto.lost, TIMEOUT)

    run(loop, main())


@pytest.mark.parametrize("kwargs, exc_type, message", [
    ({"count": 0}, ValueError, "count must be a positive integer (got 0)"),
    ({"count": -5}, ValueError, "count must be a positive integer (got -5)"),
    ({"count": "10"}, TypeError, "count must be a positive integer (got '10')"),
    ({"offset": -1}, ValueError, "offset must be a non-negative integer (got -1)"),
    ({"offset": 1.5}, TypeError, "offset must be a non-negative integer (got 1.5)"),
], ids=["count-zero", "count-negative", "count-str", "offset-negative", "offset-float"])
def test_sendfile_bad_offset_or_count(loop, data_file, kwargs, exc_type, message):
    async def main():
        tr, proto, peer = await tcp_pair(loop)
        with peer, open(data_file, "rb") as f:
            with pytest.raises(exc_type) as info:
                await loop.sendfile(tr, f, **kwargs)
            assert str(info.value) == message
            assert f.tell() == 0
            tr.close()
            await asyncio.wait_for(proto.lost, TIMEOUT)

    run(loop, main())


def test_write_during_sendfile_is_refused(loop, tmp_path):
    big = tmp_path / "big.bin"
    size = 64 * 1024 * 1024
    with open(big, "wb") as f:
        for i in range(size // (1 << 20)):
            f.write(bytes([i % 256]) * (1 << 20))

    async def main():
        tr, proto, peer = await tcp_pair(loop)
        with peer, open(big, "rb") as f:
            task = asyncio.ensure_future(loop.sendfile(tr, f))
            # the first byte arriving shows the transfer has started; the peer is
            # slower than the file is big, so it is still running
            first = await asyncio.wait_for(loop.sock_recv(peer, 1), TIMEOUT)
            assert not task.done()
            with pytest.raises(RuntimeError) as info:
                tr.write(b"x")
            assert str(info.value) == "unable to write; sendfile is in progress"
            digest = hashlib.sha256(first)
            got = 1
            while got < size:
                chunk = await loop.sock_recv(peer, 1 << 20)
                assert chunk
                digest.update(chunk)
                got += len(chunk)
            assert await asyncio.wait_for(task, TIMEOUT) == size
            f.seek(0)
            assert digest.digest() == hashlib.file_digest(f, "sha256").digest()
            tr.write(b"after")
            assert await loop.sock_recv(peer, 100) == b"after"
            tr.close()
            await asyncio.wait_for(proto.lost, TIMEOUT)

    run(loop, main())
