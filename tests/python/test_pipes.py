"""connect_read_pipe / connect_write_pipe on real pipes, on aioxide and stdlib asyncio."""

from __future__ import annotations

import asyncio
import os

import pytest

TIMEOUT = 5


class Reader(asyncio.Protocol):
    def __init__(self, loop):
        self.data = bytearray()
        self.events = []
        self.lost = loop.create_future()

    def connection_made(self, transport):
        self.events.append("made")

    def data_received(self, data):
        self.data += data

    def eof_received(self):
        self.events.append("eof")

    def connection_lost(self, exc):
        self.events.append("lost")
        self.lost.set_result(exc)


class Writer(asyncio.BaseProtocol):
    def __init__(self, loop):
        self.lost = loop.create_future()

    def connection_lost(self, exc):
        self.lost.set_result(exc)


def test_read_pipe_delivers_data_then_eof(loop):
    rfd, wfd = os.pipe()

    async def main():
        proto = Reader(loop)
        with open(rfd, "rb", 0) as pipe:
            transport, _ = await loop.connect_read_pipe(lambda: proto, pipe)
            assert isinstance(transport, asyncio.ReadTransport)
            assert transport.get_extra_info("pipe") is pipe
            os.write(wfd, b"hello ")
            os.write(wfd, b"pipe")
            os.close(wfd)
            assert await asyncio.wait_for(proto.lost, TIMEOUT) is None
        assert bytes(proto.data) == b"hello pipe"
        assert proto.events == ["made", "eof", "lost"]

    loop.run_until_complete(main())


def test_write_pipe_sends_everything_and_closes(loop):
    rfd, wfd = os.pipe()
    payload = os.urandom(1 << 20)  # larger than a pipe buffer: goes through the backlog

    async def main():
        proto = Writer(loop)
        with open(wfd, "wb", 0) as pipe, open(rfd, "rb", 0) as rpipe:
            transport, _ = await loop.connect_write_pipe(lambda: proto, pipe)
            assert isinstance(transport, asyncio.WriteTransport)
            transport.write(payload)
            assert transport.get_write_buffer_size() > 0
            received = bytearray()
            reader = Reader(loop)
            await loop.connect_read_pipe(lambda: reader, rpipe)
            transport.close()
            assert await asyncio.wait_for(proto.lost, TIMEOUT) is None
            await asyncio.wait_for(reader.lost, TIMEOUT)
            received += reader.data
        assert bytes(received) == payload

    loop.run_until_complete(main())


def test_write_pipe_notices_the_reader_closing(loop):
    rfd, wfd = os.pipe()

    async def main():
        proto = Writer(loop)
        with open(wfd, "wb", 0) as pipe:
            transport, _ = await loop.connect_write_pipe(lambda: proto, pipe)
            transport.write(b"x" * (1 << 20))  # leaves a backlog
            os.close(rfd)
            exc = await asyncio.wait_for(proto.lost, TIMEOUT)
            assert isinstance(exc, BrokenPipeError)

    loop.run_until_complete(main())


def test_pipe_transport_refuses_a_regular_file(loop, tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"data")

    async def main():
        with open(path, "rb") as f:
            with pytest.raises(ValueError, match="Pipe transport is for pipes/sockets only."):
                await loop.connect_read_pipe(lambda: Reader(loop), f)

    loop.run_until_complete(main())
