"""asyncio streams (open_connection, start_server, Unix variants) on the loop's transports.

The stream functions use the running loop, so each test runs its coroutine with
``loop.run_until_complete``.
"""

from __future__ import annotations

import asyncio
import socket

import pytest
from _transport_helpers import TIMEOUT, pattern, run


async def echo_handler(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        writer.close()
        await writer.wait_closed()


def test_open_connection_and_start_server(loop):
    async def main():
        server = await asyncio.start_server(echo_handler, "127.0.0.1", 0)
        async with server:
            addr = server.sockets[0].getsockname()
            reader, writer = await asyncio.open_connection(*addr)
            assert isinstance(writer.transport, asyncio.Transport)
            assert writer.get_extra_info("peername") == addr
            writer.write(b"line one\nline two\n")
            assert await reader.readline() == b"line one\n"
            assert await reader.readline() == b"line two\n"
            writer.write(b"exactly12345")
            assert await reader.readexactly(12) == b"exactly12345"
            writer.write(b"abc--def--")
            assert await reader.readuntil(b"--") == b"abc--"
            assert await reader.readuntil(b"--") == b"def--"
            writer.writelines([b"x", b"y", b"z"])
            await writer.drain()
            assert await reader.read(3) == b"xyz"
            assert not reader.at_eof()
            assert writer.can_write_eof()
            writer.write(b"tail")
            writer.write_eof()
            assert await reader.read() == b"tail"
            assert reader.at_eof()
            writer.close()
            assert writer.is_closing()
            await asyncio.wait_for(writer.wait_closed(), TIMEOUT)

    run(loop, main())


def test_streams_large_echo(loop):
    payload = pattern(8 * 1024 * 1024, seed=11)

    async def main():
        server = await asyncio.start_server(echo_handler, "127.0.0.1", 0)
        async with server:
            reader, writer = await asyncio.open_connection(*server.sockets[0].getsockname())

            async def send():
                for i in range(0, len(payload), 100_000):
                    writer.write(payload[i:i + 100_000])
                    await writer.drain()
                writer.write_eof()

            sender = asyncio.ensure_future(send())
            received = await reader.read(-1)
            await sender
            assert received == payload
            writer.close()
            await writer.wait_closed()

    run(loop, main())


def test_readexactly_incomplete(loop):
    async def handler(reader, writer):
        writer.write(b"abc")
        writer.close()
        await writer.wait_closed()

    async def main():
        server = await asyncio.start_server(handler, "127.0.0.1", 0)
        async with server:
            reader, writer = await asyncio.open_connection(*server.sockets[0].getsockname())
            with pytest.raises(asyncio.IncompleteReadError) as info:
                await reader.readexactly(10)
            assert info.value.partial == b"abc"
            assert info.value.expected == 10
            assert str(info.value) == "3 bytes read on a total of 10 expected bytes"
            assert reader.at_eof()
            writer.close()
            await writer.wait_closed()

    run(loop, main())


def test_readuntil_eof_and_limits(loop):
    async def handler(reader, writer):
        writer.write(b"0123456789" * 3 + b"\n" + b"no separator")
        writer.close()
        await writer.wait_closed()

    async def main():
        server = await asyncio.start_server(handler, "127.0.0.1", 0)
        async with server:
            reader, writer = await asyncio.open_connection(
                *server.sockets[0].getsockname(), limit=20)
            with pytest.raises(ValueError) as info:
                await reader.readline()
            assert str(info.value) in (
                "Separator is found, but chunk is longer than limit",
                "Separator is not found, and chunk exceed the limit")
            with pytest.raises(asyncio.IncompleteReadError) as info:
                await reader.readuntil(b"!")
            assert info.value.expected is None
            assert str(info.value).endswith("bytes read on a total of undefined expected bytes")
            writer.close()
            await writer.wait_closed()

    run(loop, main())


def test_readuntil_limit_overrun(loop):
    async def main():
        got = asyncio.Event()

        async def handler(reader, writer):
            writer.write(b"x" * 100)
            await writer.drain()
            await got.wait()
            writer.close()
            await writer.wait_closed()

        server = await asyncio.start_server(handler, "127.0.0.1", 0)
        async with server:
            reader, writer = await asyncio.open_connection(
                *server.sockets[0].getsockname(), limit=10)
            with pytest.raises(asyncio.LimitOverrunError) as info:
                await reader.readuntil(b"\n")
            assert str(info.value) == "Separator is not found, and chunk exceed the limit"
            got.set()
            writer.close()
            await writer.wait_closed()

    run(loop, main())


def test_drain_waits_for_a_slow_peer(loop):
    async def main():
        lsock = socket.socket()
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(1)
        lsock.setblocking(False)
        with lsock:
            reader, writer = await asyncio.open_connection(*lsock.getsockname())
            peer, _ = await loop.sock_accept(lsock)
        peer.setblocking(False)
        with peer:
            writer.transport.set_write_buffer_limits(high=65536)
            chunk = b"d" * 65536
            total = 0
            while writer.transport.get_write_buffer_size() <= 65536:
                writer.write(chunk)
                total += len(chunk)
                assert total < 256 * 1024 * 1024
            drain = asyncio.ensure_future(writer.drain())
            for _ in range(10):
                await asyncio.sleep(0)
            assert not drain.done()  # the peer is not reading

            async def consume():
                got = 0
                while got < total:
                    data = await loop.sock_recv(peer, 1 << 16)
                    assert data
                    got += len(data)
                return got

            consumer = asyncio.ensure_future(consume())
            await asyncio.wait_for(drain, TIMEOUT)
            assert writer.transport.get_write_buffer_size() <= 16384
            assert await asyncio.wait_for(consumer, TIMEOUT) == total
            writer.close()
            await writer.wait_closed()

    run(loop, main())


def test_reader_sees_eof_when_peer_closes(loop):
    async def handler(reader, writer):
        writer.write(b"goodbye")
        writer.close()
        await writer.wait_closed()

    async def main():
        server = await asyncio.start_server(handler, "127.0.0.1", 0)
        async with server:
            reader, writer = await asyncio.open_connection(*server.sockets[0].getsockname())
            assert await reader.read() == b"goodbye"
            assert reader.at_eof()
            assert await reader.read() == b""
            assert await reader.readline() == b""
            writer.close()
            await writer.wait_closed()

    run(loop, main())


def test_client_connected_cb_plain_function(loop):
    async def main():
        seen = loop.create_future()

        def callback(reader, writer):
            seen.set_result(writer.get_extra_info("peername"))
            writer.write(b"hi")
            writer.close()

        server = await asyncio.start_server(callback, "127.0.0.1", 0)
        async with server:
            reader, writer = await asyncio.open_connection(*server.sockets[0].getsockname())
            assert await reader.read() == b"hi"
            assert await asyncio.wait_for(seen, TIMEOUT) == writer.get_extra_info("sockname")
            writer.close()
            await writer.wait_closed()

    run(loop, main())


def test_open_connection_refused(loop):
    async def main():
        with socket.socket() as placeholder:
            placeholder.bind(("127.0.0.1", 0))
            addr = placeholder.getsockname()
            with pytest.raises(ConnectionRefusedError):
                await asyncio.open_connection(*addr)

    run(loop, main())


def test_unix_streams(loop, unix_path):
    async def main():
        server = await asyncio.start_unix_server(echo_handler, unix_path)
        async with server:
            assert server.sockets[0].getsockname() == unix_path
            reader, writer = await asyncio.open_unix_connection(unix_path)
            assert writer.get_extra_info("peername") == unix_path
            writer.write(b"unix line\n")
            assert await reader.readline() == b"unix line\n"
            writer.write(b"12345678")
            assert await reader.readexactly(8) == b"12345678"
            writer.write_eof()
            assert await reader.read() == b""
            assert reader.at_eof()
            writer.close()
            await writer.wait_closed()

    run(loop, main())


def test_streams_with_sock(loop):
    async def main():
        lsock = socket.socket()
        lsock.bind(("127.0.0.1", 0))
        server = await asyncio.start_server(echo_handler, sock=lsock)
        async with server:
            csock = socket.socket()
            csock.connect(lsock.getsockname())
            reader, writer = await asyncio.open_connection(sock=csock)
            writer.write(b"by sock\n")
            assert await reader.readline() == b"by sock\n"
            writer.close()
            await writer.wait_closed()
            assert csock.fileno() == -1

    run(loop, main())


def test_many_stream_clients(loop):
    async def main():
        server = await asyncio.start_server(echo_handler, "127.0.0.1", 0)
        async with server:
            addr = server.sockets[0].getsockname()

            async def client(i):
                reader, writer = await asyncio.open_connection(*addr)
                line = b"client %d\n" % i
                writer.write(line)
                got = await reader.readline()
                writer.close()
                await writer.wait_closed()
                return got == line

            results = await asyncio.gather(*(client(i) for i in range(100)))
            assert all(results)

    run(loop, main())
