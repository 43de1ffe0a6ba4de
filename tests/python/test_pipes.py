"""connect_read_pipe / connect_write_pipe on real pipes, on aioxide and stdlib asyncio."""

from __future__ import annotations

import asyncio
import os

import aioxide
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
            # As asyncio's: a whole Transport whose reading side is not implemented.
            assert isinstance(transport, asyncio.Transport)
            with pytest.raises(NotImplementedError):
                transport.pause_reading()
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


def test_read_pipe_pause_and_resume(loop):
    rfd, wfd = os.pipe()

    async def main():
        proto = Reader(loop)
        with open(rfd, "rb", 0) as pipe:
            transport, _ = await loop.connect_read_pipe(lambda: proto, pipe)
            transport.pause_reading()
            assert not transport.is_reading()
            os.write(wfd, b"held")
            for _ in range(5):
                await asyncio.sleep(0.01)
            assert proto.data == b""  # nothing read while paused
            transport.resume_reading()
            assert transport.is_reading()
            os.close(wfd)
            assert await asyncio.wait_for(proto.lost, TIMEOUT) is None
            assert not transport.is_reading()
        assert bytes(proto.data) == b"held"

    loop.run_until_complete(main())


class FlowWriter(Writer):
    def __init__(self, loop):
        super().__init__(loop)
        self.events = []
        self.resumed = loop.create_future()

    def pause_writing(self):
        self.events.append("pause")

    def resume_writing(self):
        self.events.append("resume")
        if not self.resumed.done():
            self.resumed.set_result(None)


def test_write_pipe_flow_control_pauses_and_resumes(loop):
    rfd, wfd = os.pipe()
    chunk = os.urandom(64 * 1024)

    async def main():
        proto = FlowWriter(loop)
        with open(wfd, "wb", 0) as pipe, open(rfd, "rb", 0) as rpipe:
            transport, _ = await loop.connect_write_pipe(lambda: proto, pipe)
            transport.set_write_buffer_limits(high=32 * 1024, low=8 * 1024)
            assert transport.get_write_buffer_limits() == (8 * 1024, 32 * 1024)
            sent = bytearray()
            while not proto.events:  # nobody reads: the pipe fills, then the backlog
                transport.write(chunk)
                sent += chunk
            assert proto.events == ["pause"]
            assert transport.get_write_buffer_size() > 32 * 1024
            reader = Reader(loop)
            await loop.connect_read_pipe(lambda: reader, rpipe)
            await asyncio.wait_for(proto.resumed, TIMEOUT)
            assert proto.events == ["pause", "resume"]
            transport.close()
            assert await asyncio.wait_for(proto.lost, TIMEOUT) is None
            await asyncio.wait_for(reader.lost, TIMEOUT)
            assert bytes(reader.data) == bytes(sent)

    loop.run_until_complete(main())


def test_read_pipe_protocol_error_is_reported_and_reading_goes_on(loop):
    rfd, wfd = os.pipe()
    errors = []
    loop.set_exception_handler(lambda _loop, context: errors.append(context))

    class Failing(Reader):
        def data_received(self, data):
            super().data_received(data)
            if data == b"boom":
                raise ZeroDivisionError("from data_received")

    async def main():
        proto = Failing(loop)
        with open(rfd, "rb", 0) as pipe:
            await loop.connect_read_pipe(lambda: proto, pipe)
            os.write(wfd, b"boom")
            while not errors:
                await asyncio.sleep(0.01)
            os.write(wfd, b" more")  # asyncio's pipes stay open after a protocol error
            os.close(wfd)
            assert await asyncio.wait_for(proto.lost, TIMEOUT) is None
        assert bytes(proto.data) == b"boom more"

    loop.run_until_complete(main())
    assert len(errors) == 1
    assert isinstance(errors[0]["exception"], ZeroDivisionError)


def test_write_pipe_rejects_bad_data_and_ignores_writes_once_closed(loop):
    rfd, wfd = os.pipe()

    async def main():
        proto = Writer(loop)
        with open(wfd, "wb", 0) as pipe, open(rfd, "rb", 0) as rpipe:
            transport, _ = await loop.connect_write_pipe(lambda: proto, pipe)
            # asyncio's own pipe transport only asserts the type; aioxide raises TypeError
            # with the message asyncio's socket transports use.
            native = isinstance(loop, aioxide.Loop)
            with pytest.raises(TypeError if native else AssertionError):
                transport.write("text")
            transport.write(b"kept")
            transport.close()
            assert transport.is_closing()
            transport.write(b"dropped")  # ignored, as asyncio does
            assert await asyncio.wait_for(proto.lost, TIMEOUT) is None
            assert rpipe.read() == b"kept"

    loop.run_until_complete(main())


def test_write_pipe_abort_drops_the_backlog(loop):
    rfd, wfd = os.pipe()
    payload = os.urandom(1 << 20)

    async def main():
        proto = Writer(loop)
        with open(wfd, "wb", 0) as pipe, open(rfd, "rb", 0) as rpipe:
            transport, _ = await loop.connect_write_pipe(lambda: proto, pipe)
            transport.write(payload)
            assert transport.get_write_buffer_size() > 0
            transport.abort()
            assert transport.get_write_buffer_size() == 0
            assert await asyncio.wait_for(proto.lost, TIMEOUT) is None
            assert len(rpipe.read()) < len(payload)  # the pipe buffer's worth, no more

    loop.run_until_complete(main())


def test_write_pipe_closing_with_a_backlog_warns_of_dropped_writes(loop, caplog):
    """Once closing, a pipe drops further writes and, from the fifth on, logs asyncio's
    warning; the backlog written before close() still all arrives."""
    rfd, wfd = os.pipe()
    payload = os.urandom(200_000)  # more than the pipe holds: a backlog stays
    message = "pipe closed by peer or os.write(pipe, data) raised exception."

    async def main():
        proto = Writer(loop)
        with open(wfd, "wb", 0) as pipe, open(rfd, "rb", 0) as rpipe:
            transport, _ = await loop.connect_write_pipe(lambda: proto, pipe)
            transport.write(payload)
            assert transport.get_write_buffer_size() > 0
            transport.close()
            with caplog.at_level("WARNING", logger="asyncio"):
                for _ in range(7):
                    transport.write(b"dropped")
            warnings = [r for r in caplog.records if r.getMessage() == message]
            assert len(warnings) == 2
            received = await loop.run_in_executor(None, rpipe.read)
            assert received == payload
            assert await asyncio.wait_for(proto.lost, TIMEOUT) is None

    loop.run_until_complete(main())
