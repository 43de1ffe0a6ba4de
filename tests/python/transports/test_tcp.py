"""loop.create_connection: resolution, sock=, local_addr, happy eyeballs, errors."""

from __future__ import annotations

import asyncio
import errno
import socket
import time

import pytest
from _transport_helpers import (
    IN_USE,
    Recorder,
    blackhole_address,
    close_and_wait,
    connect_failed,
    fd_count,
    install_resolver,
    refused_address,
    run,
    tcp_server,
)

# -- connecting ----------------------------------------------------------------------------


def test_create_connection_host_port(loop):
    async def main():
        async with tcp_server(loop) as (server, addr, accepting):
            tr, proto = await loop.create_connection(lambda: Recorder(loop), *addr)
            assert isinstance(proto, Recorder)
            assert proto.transport is tr
            assert tr.get_extra_info("peername") == addr
            peer = await accepting.next()
            assert peer.transport.get_extra_info("peername") == tr.get_extra_info("sockname")
            tr.write(b"hello")
            assert await proto.received(5) == b"hello"
            assert await close_and_wait(proto) is None

    run(loop, main())


def test_create_connection_port_as_string(loop):
    async def main():
        async with tcp_server(loop) as (server, (host, port), _):
            tr, proto = await loop.create_connection(lambda: Recorder(loop), host, str(port))
            assert tr.get_extra_info("peername") == (host, port)
            await close_and_wait(proto)

    run(loop, main())


def test_create_connection_resolves_localhost(loop):
    async def main():
        infos = await loop.getaddrinfo("localhost", None, type=socket.SOCK_STREAM)
        if not any(info[4][0] == "127.0.0.1" for info in infos):
            pytest.skip("localhost does not resolve to 127.0.0.1")
        async with tcp_server(loop) as (server, (_, port), _):
            tr, proto = await loop.create_connection(
                lambda: Recorder(loop), "localhost", port, family=socket.AF_INET)
            assert tr.get_extra_info("peername") == ("127.0.0.1", port)
            assert tr.get_extra_info("socket").family == socket.AF_INET
            await close_and_wait(proto)

    run(loop, main())


def test_create_connection_goes_through_loop_getaddrinfo(loop):
    async def main():
        async with tcp_server(loop) as (server, addr, _):
            calls = install_resolver(loop, {"service.test": [(socket.AF_INET, addr)]})
            tr, proto = await loop.create_connection(lambda: Recorder(loop), "service.test", 80)
            assert tr.get_extra_info("peername") == addr
            assert [c[:2] for c in calls] == [("service.test", 80)]
            assert calls[0][3] == socket.SOCK_STREAM
            await close_and_wait(proto)

    run(loop, main())


def test_create_connection_ipv6(loop, ipv6):
    async def main():
        async with tcp_server(loop, host="::1") as (server, addr, _):
            tr, proto = await loop.create_connection(lambda: Recorder(loop), *addr)
            assert tr.get_extra_info("socket").family == socket.AF_INET6
            assert tr.get_extra_info("peername")[:2] == addr
            tr.write(b"six")
            assert await proto.received(3) == b"six"
            await close_and_wait(proto)

    run(loop, main())


def test_create_connection_with_sock(loop):
    async def main():
        async with tcp_server(loop) as (server, addr, _):
            sock = socket.socket()
            sock.setblocking(False)
            await loop.sock_connect(sock, addr)
            tr, proto = await loop.create_connection(lambda: Recorder(loop), sock=sock)
            assert tr.get_extra_info("socket").fileno() == sock.fileno()
            assert tr.get_extra_info("peername") == addr
            assert tr.get_extra_info("sockname") == sock.getsockname()
            tr.write(b"via sock")
            assert await proto.received(8) == b"via sock"
            await close_and_wait(proto)
            # the transport owned the socket and closed it
            assert sock.fileno() == -1

    run(loop, main())


def test_create_connection_with_unix_stream_sock(loop, unix_path):
    async def main():
        server = await loop.create_unix_server(lambda: Recorder(loop, echo=True), unix_path)
        async with server:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.setblocking(False)
            await loop.sock_connect(sock, unix_path)
            tr, proto = await loop.create_connection(lambda: Recorder(loop), sock=sock)
            tr.write(b"unix")
            assert await proto.received(4) == b"unix"
            await close_and_wait(proto)

    run(loop, main())


def test_create_connection_local_addr(loop):
    async def main():
        async with tcp_server(loop) as (server, addr, accepting):
            tr, proto = await loop.create_connection(
                lambda: Recorder(loop), *addr, local_addr=("127.0.0.1", 0))
            host, port = tr.get_extra_info("sockname")
            assert host == "127.0.0.1" and port != 0
            peer = await accepting.next()
            assert peer.transport.get_extra_info("peername") == (host, port)
            await close_and_wait(proto)

    run(loop, main())


def test_create_connection_local_addr_in_use(loop):
    async def main():
        async with tcp_server(loop) as (server, addr, _):
            with socket.socket() as taken:
                taken.bind(("127.0.0.1", 0))
                taken.listen(1)
                local = taken.getsockname()
                before = fd_count()
                with pytest.raises(OSError) as info:
                    await loop.create_connection(lambda: Recorder(loop), *addr, local_addr=local)
                assert type(info.value) is OSError
                assert info.value.errno == errno.EADDRINUSE
                assert str(info.value) == (
                    f"[Errno {errno.EADDRINUSE}] error while attempting to bind on "
                    f"address {local!r}: {IN_USE}")
                assert fd_count() == before

    run(loop, main())


def test_create_connection_local_addr_of_other_family(loop):
    async def main():
        async with tcp_server(loop) as (server, addr, _):
            with pytest.raises(OSError) as info:
                await loop.create_connection(lambda: Recorder(loop), *addr,
                                             local_addr=("::1", 0))
            assert str(info.value) == (
                f"no matching local address with family={socket.AF_INET!r} found")

    run(loop, main())


def test_create_connection_family_proto_flags(loop):
    async def main():
        async with tcp_server(loop) as (server, addr, _):
            tr, proto = await loop.create_connection(
                lambda: Recorder(loop), *addr, family=socket.AF_INET,
                proto=socket.IPPROTO_TCP, flags=socket.AI_NUMERICHOST)
            sock = tr.get_extra_info("socket")
            assert sock.family == socket.AF_INET
            assert sock.type == socket.SOCK_STREAM
            await close_and_wait(proto)

    run(loop, main())


def test_create_connection_sets_nodelay(loop):
    async def main():
        async with tcp_server(loop) as (server, addr, accepting):
            tr, proto = await loop.create_connection(lambda: Recorder(loop), *addr)
            sock = tr.get_extra_info("socket")
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
            peer = await accepting.next()
            peer_sock = peer.transport.get_extra_info("socket")
            assert peer_sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
            await close_and_wait(proto)

    run(loop, main())


# -- several addresses ---------------------------------------------------------------------


def test_create_connection_tries_next_address(loop):
    async def main():
        async with tcp_server(loop) as (server, addr, _):
            with refused_address() as refused:
                install_resolver(loop, {"multi.test": [(socket.AF_INET, refused),
                                                       (socket.AF_INET, addr)]})
                tr, proto = await loop.create_connection(lambda: Recorder(loop), "multi.test", 1)
                assert tr.get_extra_info("peername") == addr
                await close_and_wait(proto)

    run(loop, main())


def test_happy_eyeballs_skips_a_stalled_address(loop):
    async def main():
        async with tcp_server(loop) as (server, addr, accepting):
            with blackhole_address() as stalled:
                install_resolver(loop, {"he.test": [(socket.AF_INET, stalled),
                                                    (socket.AF_INET, addr)]})
                before = fd_count()
                start = time.monotonic()
                tr, proto = await loop.create_connection(
                    lambda: Recorder(loop), "he.test", 1, happy_eyeballs_delay=0.2)
                elapsed = time.monotonic() - start
                assert tr.get_extra_info("peername") == addr
                assert 0.15 <= elapsed < 5
                tr.write(b"eyeballs")
                assert await proto.received(8) == b"eyeballs"
                await close_and_wait(proto)
                await accepting.all_lost()
                # the stalled attempt's socket is closed too
                assert fd_count() == before

    run(loop, main())


def test_happy_eyeballs_first_address_wins_when_it_answers(loop):
    async def main():
        async with tcp_server(loop) as (server1, addr1, _):
            async with tcp_server(loop) as (server2, addr2, accepting2):
                install_resolver(loop, {"he.test": [(socket.AF_INET, addr1),
                                                    (socket.AF_INET, addr2)]})
                tr, proto = await loop.create_connection(
                    lambda: Recorder(loop), "he.test", 1, happy_eyeballs_delay=5)
                assert tr.get_extra_info("peername") == addr1
                assert accepting2.protocols == []
                await close_and_wait(proto)

    run(loop, main())


def _mixed_family_table(refused4, refused6):
    a6, b6, b6bis = refused6
    (c4,) = refused4
    return {"mixed.test": [(socket.AF_INET6, a6), (socket.AF_INET6, b6),
                           (socket.AF_INET6, b6bis), (socket.AF_INET, c4)]}


@pytest.mark.parametrize("kwargs, order", [
    ({}, [0, 1, 2, 3]),
    ({"interleave": 1}, [0, 3, 1, 2]),
    ({"interleave": 2}, [0, 1, 3, 2]),
    ({"happy_eyeballs_delay": 0.05}, [0, 3, 1, 2]),
    ({"happy_eyeballs_delay": 0.05, "interleave": 2}, [0, 1, 3, 2]),
], ids=["sequential", "interleave1", "interleave2", "eyeballs-default", "eyeballs-interleave2"])
def test_interleave_order_of_attempts(loop, ipv6, kwargs, order):
    async def main():
        with refused_address(socket.AF_INET6) as a6, \
                refused_address(socket.AF_INET6) as b6, \
                refused_address(socket.AF_INET6) as b6bis, \
                refused_address(socket.AF_INET) as c4:
            install_resolver(loop, _mixed_family_table([c4], [a6, b6, b6bis]))
            addrs = [a6, b6, b6bis, c4]
            before = fd_count()
            with pytest.raises(OSError) as info:
                await loop.create_connection(lambda: Recorder(loop), "mixed.test", 1, **kwargs)
            assert type(info.value) is OSError
            assert str(info.value) == "Multiple exceptions: " + ", ".join(
                connect_failed(addrs[i]) for i in order)
            assert fd_count() == before

    run(loop, main())


# -- errors --------------------------------------------------------------------------------


def test_connection_refused(loop):
    async def main():
        with refused_address() as addr:
            before = fd_count()
            with pytest.raises(ConnectionRefusedError) as info:
                await loop.create_connection(lambda: Recorder(loop), *addr)
            assert info.value.errno == errno.ECONNREFUSED
            assert str(info.value) == connect_failed(addr)
            assert fd_count() == before

    run(loop, main())


def test_connection_refused_on_every_address(loop):
    async def main():
        with refused_address() as a, refused_address() as b:
            install_resolver(loop, {"two.test": [(socket.AF_INET, a), (socket.AF_INET, b)]})
            with pytest.raises(OSError) as info:
                await loop.create_connection(lambda: Recorder(loop), "two.test", 1)
            assert type(info.value) is OSError
            assert info.value.errno is None
            assert str(info.value) == (
                f"Multiple exceptions: {connect_failed(a)}, {connect_failed(b)}")

    run(loop, main())


def test_connection_refused_same_error_twice_raises_it_once(loop):
    async def main():
        with refused_address() as a:
            install_resolver(loop, {"twice.test": [(socket.AF_INET, a), (socket.AF_INET, a)]})
            with pytest.raises(ConnectionRefusedError) as info:
                await loop.create_connection(lambda: Recorder(loop), "twice.test", 1)
            assert str(info.value) == connect_failed(a)

    run(loop, main())


def test_resolution_failure_propagates(loop):
    async def main():
        with pytest.raises(socket.gaierror):
            await loop.create_connection(lambda: Recorder(loop), "nonexistent.invalid", 80)

    run(loop, main())


def test_resolver_returning_nothing(loop):
    async def main():
        install_resolver(loop, {"empty.test": []})
        with pytest.raises(OSError) as info:
            await loop.create_connection(lambda: Recorder(loop), "empty.test", 80)
        assert str(info.value) == "getaddrinfo() returned empty list"

    run(loop, main())


def test_port_out_of_range(loop):
    async def main():
        before = fd_count()
        with pytest.raises(OverflowError):
            await loop.create_connection(lambda: Recorder(loop), "127.0.0.1", 70000)
        assert fd_count() == before

    run(loop, main())


def test_host_and_sock_both_given(loop):
    async def main():
        with socket.socket() as sock:
            with pytest.raises(ValueError) as info:
                await loop.create_connection(lambda: Recorder(loop), "127.0.0.1", 80, sock=sock)
            assert str(info.value) == "host/port and sock can not be specified at the same time"
            with pytest.raises(ValueError) as info:
                await loop.create_connection(lambda: Recorder(loop), port=80, sock=sock)
            assert str(info.value) == "host/port and sock can not be specified at the same time"
            assert sock.fileno() != -1

    run(loop, main())


def test_neither_host_nor_sock(loop):
    async def main():
        with pytest.raises(ValueError) as info:
            await loop.create_connection(lambda: Recorder(loop))
        assert str(info.value) == "host and port was not specified and no sock specified"

    run(loop, main())


def test_ssl_only_arguments_without_ssl(loop):
    async def main():
        for kwargs, message in [
            ({"server_hostname": "example.com"}, "server_hostname is only meaningful with ssl"),
            ({"ssl_handshake_timeout": 1.0}, "ssl_handshake_timeout is only meaningful with ssl"),
            ({"ssl_shutdown_timeout": 1.0}, "ssl_shutdown_timeout is only meaningful with ssl"),
        ]:
            with pytest.raises(ValueError) as info:
                await loop.create_connection(lambda: Recorder(loop), "127.0.0.1", 80, **kwargs)
            assert str(info.value) == message

    run(loop, main())


def test_datagram_sock_rejected(loop):
    async def main():
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            with pytest.raises(ValueError) as info:
                await loop.create_connection(lambda: Recorder(loop), sock=sock)
            assert str(info.value) == f"A Stream Socket was expected, got {sock!r}"
            assert sock.fileno() != -1

    run(loop, main())


def test_protocol_factory_error_propagates(loop):
    async def main():
        async with tcp_server(loop) as (server, addr, accepting):
            def factory():
                raise ZeroDivisionError

            before = fd_count()
            with pytest.raises(ZeroDivisionError):
                await loop.create_connection(factory, *addr)
            # the server side sees the connection go away
            peer = await accepting.next()
            await asyncio.wait_for(peer.lost, 5)
            assert fd_count() == before

    run(loop, main())
