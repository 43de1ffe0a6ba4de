"""Write flow control: pause_writing/resume_writing at the water marks."""

from __future__ import annotations

import asyncio
import hashlib
import socket
import struct

import pytest
from _transport_helpers import TIMEOUT, Accepting, Recorder, run

CHUNK = 16 * 1024
# A peer that never reads stops the sender after a few MiB of kernel buffers; writing
# this much without pause_writing means flow control is broken.
MAX_UNPAUSED = 256 * 1024 * 1024


def chunk(i: int) -> bytes:
    return struct.pack(">Q", i) * (CHUNK // 8)


class Writer(Recorder):
    """Records pause_writing/resume_writing and the buffer size when each came."""

    def __init__(self, loop, **kwargs):
        super().__init__(loop, **kwargs)
        self.paused = False
        self.pause_sizes: list[int] = []
        self.resume_sizes: list[int] = []
        self.resumed = loop.create_future()
        self.written = hashlib.sha256()
        self.count = 0
        self.max_buffer = 0

    def pause_writing(self):
        assert not self.paused
        self.paused = True
        self.pause_sizes.append(self.transport.get_write_buffer_size())

    def resume_writing(self):
        assert self.paused
        self.paused = False
        self.resume_sizes.append(self.transport.get_write_buffer_size())
        if not self.resumed.done():
            self.resumed.set_result(None)

    def write_chunk(self):
        data = chunk(self.count)
        self.count += 1
        self.written.update(data)
        self.transport.write(data)
        self.max_buffer = max(self.max_buffer, self.transport.get_write_buffer_size())

    def write_until_paused(self):
        while not self.paused:
            assert self.count * CHUNK < MAX_UNPAUSED, "pause_writing was never called"
            self.write_chunk()


async def connected_writer(loop, factory):
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(1)
    lsock.setblocking(False)
    with lsock:
        tr, proto = await loop.create_connection(factory, *lsock.getsockname())
        peer, _ = await loop.sock_accept(lsock)
    peer.setblocking(False)
    return peer, tr, proto


async def drain_peer(loop, peer, nbytes):
    """Read ``nbytes`` from ``peer``; the SHA-256 of what came."""
    digest = hashlib.sha256()
    got = 0
    while got < nbytes:
        data = await loop.sock_recv(peer, 1 << 16)
        assert data, f"EOF after {got} of {nbytes} bytes"
        digest.update(data)
        got += len(data)
    assert got == nbytes
    return digest.digest()


def test_slow_reader_pauses_and_resumes_the_writer(loop):
    async def main():
        peer, tr, proto = await connected_writer(loop, lambda: Writer(loop))
        with peer:
            low, high = tr.get_write_buffer_limits()
            assert (low, high) == (16384, 65536)
            proto.write_until_paused()
            assert proto.pause_sizes[0] > high
            size = tr.get_write_buffer_size()
            assert high < size <= high + CHUNK
            assert proto.resume_sizes == []

            total = proto.count * CHUNK
            reader = asyncio.ensure_future(drain_peer(loop, peer, total))
            await asyncio.wait_for(proto.resumed, TIMEOUT)
            assert len(proto.resume_sizes) == 1
            assert proto.resume_sizes[0] <= low
            assert await asyncio.wait_for(reader, TIMEOUT) == proto.written.digest()
            assert len(proto.pause_sizes) == 1
            assert tr.get_write_buffer_size() == 0
            tr.close()
            await asyncio.wait_for(proto.lost, TIMEOUT)

    run(loop, main())


def test_writer_that_obeys_flow_control_stops_at_the_high_water_mark(loop):
    total_chunks = 4096  # 64 MiB

    class Obedient(Writer):
        def __init__(self, loop):
            super().__init__(loop)
            self.done = loop.create_future()

        def connection_made(self, transport):
            super().connection_made(transport)
            transport.set_write_buffer_limits(high=256 * 1024, low=64 * 1024)
            self.pump()

        def resume_writing(self):
            super().resume_writing()
            self.pump()

        def pump(self):
            while not self.paused and self.count < total_chunks:
                self.write_chunk()
            if self.count == total_chunks and not self.done.done():
                self.done.set_result(None)

    async def main():
        peer, tr, proto = await connected_writer(loop, lambda: Obedient(loop))
        with peer:
            digest = await asyncio.wait_for(
                drain_peer(loop, peer, total_chunks * CHUNK), TIMEOUT * 2)
            await asyncio.wait_for(proto.done, TIMEOUT)
            assert digest == proto.written.digest()
            assert proto.pause_sizes, "the peer did not slow the writer down"
            assert all(256 * 1024 < s <= 256 * 1024 + CHUNK for s in proto.pause_sizes)
            assert all(s <= 64 * 1024 for s in proto.resume_sizes)
            assert proto.max_buffer <= 256 * 1024 + CHUNK
            assert len(proto.resume_sizes) in (len(proto.pause_sizes),
                                               len(proto.pause_sizes) - 1)
            tr.close()
            await asyncio.wait_for(proto.lost, TIMEOUT)

    run(loop, main())


def test_server_side_transport_flow_control(loop):
    async def main():
        acc = Accepting(loop, protocol_cls=Writer)
        server = await loop.create_server(acc, "127.0.0.1", 0)
        async with server:
            client = socket.socket()
            client.setblocking(False)
            with client:
                await loop.sock_connect(client, server.sockets[0].getsockname())
                proto = await acc.next()
                proto.write_until_paused()
                assert len(proto.pause_sizes) == 1
                reader = asyncio.ensure_future(drain_peer(loop, client, proto.count * CHUNK))
                await asyncio.wait_for(proto.resumed, TIMEOUT)
                assert await asyncio.wait_for(reader, TIMEOUT) == proto.written.digest()
                proto.transport.close()
                await asyncio.wait_for(proto.lost, TIMEOUT)

    run(loop, main())


def test_lowering_the_limits_pauses_at_once(loop):
    async def main():
        peer, tr, proto = await connected_writer(loop, lambda: Writer(loop))
        with peer:
            tr.set_write_buffer_limits(high=MAX_UNPAUSED)
            while tr.get_write_buffer_size() < 4 * CHUNK:
                assert proto.count * CHUNK < MAX_UNPAUSED
                proto.write_chunk()
            assert proto.pause_sizes == []
            size = tr.get_write_buffer_size()
            tr.set_write_buffer_limits(high=CHUNK, low=0)
            assert proto.pause_sizes == [size]
            reader = asyncio.ensure_future(drain_peer(loop, peer, proto.count * CHUNK))
            await asyncio.wait_for(proto.resumed, TIMEOUT)
            assert proto.resume_sizes == [0]
            assert await asyncio.wait_for(reader, TIMEOUT) == proto.written.digest()
            tr.close()
            await asyncio.wait_for(proto.lost, TIMEOUT)

    run(loop, main())


def test_zero_high_water_mark_pauses_on_any_buffered_data(loop):
    async def main():
        peer, tr, proto = await connected_writer(loop, lambda: Writer(loop))
        with peer:
            tr.set_write_buffer_limits(high=0)
            assert tr.get_write_buffer_limits() == (0, 0)
            proto.write_until_paused()
            assert proto.pause_sizes[0] > 0
            reader = asyncio.ensure_future(drain_peer(loop, peer, proto.count * CHUNK))
            await asyncio.wait_for(proto.resumed, TIMEOUT)
            assert proto.resume_sizes == [0]
            assert await asyncio.wait_for(reader, TIMEOUT) == proto.written.digest()
            tr.close()
            await asyncio.wait_for(proto.lost, TIMEOUT)

    run(loop, main())


@pytest.mark.parametrize("failing", ["pause_writing", "resume_writing"])
def test_exceptions_in_flow_control_callbacks_are_reported(loop, failing):
    class Failing(Writer):
        def pause_writing(self):
            super().pause_writing()
            if failing == "pause_writing":
                raise ZeroDivisionError("pause")

        def resume_writing(self):
            super().resume_writing()
            if failing == "resume_writing":
                raise ZeroDivisionError("resume")

    async def main():
        contexts = []
        loop.set_exception_handler(lambda _loop, ctx: contexts.append(ctx))
        peer, tr, proto = await connected_writer(loop, lambda: Failing(loop))
        with peer:
            proto.write_until_paused()
            reader = asyncio.ensure_future(drain_peer(loop, peer, proto.count * CHUNK))
            await asyncio.wait_for(proto.resumed, TIMEOUT)
            assert await asyncio.wait_for(reader, TIMEOUT) == proto.written.digest()
            assert len(contexts) == 1
            assert contexts[0]["message"] == f"protocol.{failing}() failed"
            assert isinstance(contexts[0]["exception"], ZeroDivisionError)
            assert contexts[0]["transport"] is tr
            assert contexts[0]["protocol"] is proto
            # the transport carries on
            assert not tr.is_closing()
            tr.close()
            assert await asyncio.wait_for(proto.lost, TIMEOUT) is None

    run(loop, main())


def test_connection_lost_while_paused_does_not_resume(loop):
    async def main():
        peer, tr, proto = await connected_writer(loop, lambda: Writer(loop))
        with peer:
            proto.write_until_paused()
            tr.abort()
            assert await asyncio.wait_for(proto.lost, TIMEOUT) is None
            assert proto.resume_sizes == []
            assert tr.get_write_buffer_size() == 0

    run(loop, main())
