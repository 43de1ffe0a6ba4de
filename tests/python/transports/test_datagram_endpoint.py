"""loop.create_datagram_endpoint and datagram transports (UDP and Unix datagram)."""

from __future__ import annotations

import asyncio
import errno
import os
import socket
import sys

import pytest
from _transport_helpers import TIMEOUT, fd_count, has_reuseport, run


class Datagrams(asyncio.DatagramProtocol):
    def __init__(self, loop):
        self.loop = loop
        self.transport = None
        self.events = []
        self.datagrams: asyncio.Queue = asyncio.Queue()
        self.errors: asyncio.Queue = asyncio.Queue()
        self.lost = loop.create_future()
        self.lost_calls = 0

    def connection_made(self, transport):
        self.transport = transport
        self.events.append("made")

    def datagram_received(self, data, addr):
        self.events.append("datagram")
        self.datagrams.put_nowait((data, addr))

    def error_received(self, exc):
        self.events.append("error")
        self.errors.put_nowait(exc)

    def connection_lost(self, exc):
        self.events.append("lost")
        self.lost_calls += 1
        if not self.lost.done():
            self.lost.set_result(exc)

    async def next(self):
        return await asyncio.wait_for(self.datagrams.get(), TIMEOUT)

    async def next_error(self):
        return await asyncio.wait_for(self.errors.get(), TIMEOUT)


def udp_socket(host="127.0.0.1"):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((host, 0))
    sock.setblocking(False)
    return sock


async def close(tr, proto):
    tr.close()
    return await asyncio.wait_for(proto.lost, TIMEOUT)


def test_local_addr(loop):
    async def main():
        tr, proto = await loop.create_datagram_endpoint(
            lambda: Datagrams(loop), local_addr=("127.0.0.1", 0))
        assert isinstance(tr, asyncio.BaseTransport)
        assert proto.transport is tr
        sock = tr.get_extra_info("socket")
        assert sock.family == socket.AF_INET
        assert sock.type == socket.SOCK_DGRAM
        addr = tr.get_extra_info("sockname")
        assert addr[0] == "127.0.0.1" and addr[1] != 0
        assert sock.getsockname() == addr
        assert tr.get_extra_info("peername") is None
        assert tr.get_write_buffer_size() == 0

        with udp_socket() as other:
            tr.sendto(b"to other", other.getsockname())
            data, src = await loop.sock_recvfrom(other, 100)
            assert (data, src) == (b"to other", addr)
            await loop.sock_sendto(other, b"back", addr)
            assert await proto.next() == (b"back", other.getsockname())
            tr.sendto(bytearray(b"bytearray"), other.getsockname())
            tr.sendto(memoryview(b"memoryview"), other.getsockname())
            assert (await loop.sock_recvfrom(other, 100))[0] == b"bytearray"
            assert (await loop.sock_recvfrom(other, 100))[0] == b"memoryview"
        assert await close(tr, proto) is None
        assert proto.events == ["made", "datagram", "lost"]
        assert tr.is_closing()

    run(loop, main())


def test_datagram_transport_is_a_datagram_transport(loop, is_aioxide):
    if not is_aioxide and sys.version_info < (3, 12):
        # 3.11's _SelectorDatagramTransport derives from asyncio.Transport only
        pytest.skip("asyncio's datagram transport is a DatagramTransport from 3.12")

    async def main():
        tr, proto = await loop.create_datagram_endpoint(
            lambda: Datagrams(loop), local_addr=("127.0.0.1", 0))
        assert isinstance(tr, asyncio.DatagramTransport)
        assert isinstance(tr, asyncio.BaseTransport)
        await close(tr, proto)

    run(loop, main())


def test_datagram_boundaries_are_kept(loop):
    async def main():
        tr, proto = await loop.create_datagram_endpoint(
            lambda: Datagrams(loop), local_addr=("127.0.0.1", 0))
        addr = tr.get_extra_info("sockname")
        with udp_socket() as other:
            sizes = [1, 100, 1000, 9000, 60000]
            for n in sizes:
                await loop.sock_sendto(other, bytes([n % 256]) * n, addr)
            for n in sizes:
                data, _ = await proto.next()
                assert data == bytes([n % 256]) * n
        await close(tr, proto)

    run(loop, main())


def test_remote_addr(loop):
    async def main():
        with udp_socket() as other:
            remote = other.getsockname()
            tr, proto = await loop.create_datagram_endpoint(
                lambda: Datagrams(loop), remote_addr=remote)
            assert tr.get_extra_info("peername") == remote
            local = tr.get_extra_info("sockname")
            tr.sendto(b"connected")
            tr.sendto(b"explicit", remote)
            assert await loop.sock_recvfrom(other, 100) == (b"connected", local)
            assert await loop.sock_recvfrom(other, 100) == (b"explicit", local)
            await loop.sock_sendto(other, b"reply", local)
            assert await proto.next() == (b"reply", remote)

            with pytest.raises(ValueError) as info:
                tr.sendto(b"elsewhere", ("127.0.0.1", remote[1] + 1))
            assert str(info.value) == f"Invalid address: must be None or {remote}"
            await close(tr, proto)

    run(loop, main())


def test_local_and_remote_addr(loop):
    async def main():
        with udp_socket() as other:
            tr, proto = await loop.create_datagram_endpoint(
                lambda: Datagrams(loop), local_addr=("127.0.0.1", 0),
                remote_addr=other.getsockname())
            local = tr.get_extra_info("sockname")
            assert local[0] == "127.0.0.1"
            assert tr.get_extra_info("peername") == other.getsockname()
            tr.sendto(b"both")
            assert await loop.sock_recvfrom(other, 100) == (b"both", local)
            await close(tr, proto)

    run(loop, main())


def test_family_only(loop):
    async def main():
        tr, proto = await loop.create_datagram_endpoint(
            lambda: Datagrams(loop), family=socket.AF_INET)
        assert tr.get_extra_info("socket").family == socket.AF_INET
        with udp_socket() as other:
            tr.sendto(b"unbound", other.getsockname())
            data, src = await loop.sock_recvfrom(other, 100)
            assert data == b"unbound"
            # the socket got bound when it sent
            assert src[1] == tr.get_extra_info("socket").getsockname()[1]
        await close(tr, proto)

    run(loop, main())


def test_ipv6_endpoint(loop, ipv6):
    async def main():
        tr, proto = await loop.create_datagram_endpoint(
            lambda: Datagrams(loop), local_addr=("::1", 0))
        addr = tr.get_extra_info("sockname")
        assert tr.get_extra_info("socket").family == socket.AF_INET6
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as other:
            other.bind(("::1", 0))
            other.setblocking(False)
            await loop.sock_sendto(other, b"six", addr[:2])
            data, src = await proto.next()
            assert data == b"six"
            assert src[:2] == other.getsockname()[:2]
        await close(tr, proto)

    run(loop, main())


def test_reuse_port(loop):
    if not has_reuseport():
        pytest.skip("SO_REUSEPORT is not available")

    async def main():
        tr1, p1 = await loop.create_datagram_endpoint(
            lambda: Datagrams(loop), local_addr=("127.0.0.1", 0), reuse_port=True)
        addr = tr1.get_extra_info("sockname")
        tr2, p2 = await loop.create_datagram_endpoint(
            lambda: Datagrams(loop), local_addr=addr, reuse_port=True)
        assert tr2.get_extra_info("sockname") == addr
        for tr in (tr1, tr2):
            sock = tr.get_extra_info("socket")
            assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) != 0
        await close(tr1, p1)
        await close(tr2, p2)

    run(loop, main())


def test_reuse_port_off_means_address_in_use(loop):
    async def main():
        tr1, p1 = await loop.create_datagram_endpoint(
            lambda: Datagrams(loop), local_addr=("127.0.0.1", 0))
        addr = tr1.get_extra_info("sockname")
        before = fd_count()
        with pytest.raises(OSError) as info:
            await loop.create_datagram_endpoint(lambda: Datagrams(loop), local_addr=addr)
        assert info.value.errno == errno.EADDRINUSE
        assert fd_count() == before
        await close(tr1, p1)

    run(loop, main())


def test_reuse_address_is_not_accepted(loop):
    async def main():
        with pytest.raises(TypeError) as info:
            await loop.create_datagram_endpoint(
                lambda: Datagrams(loop), local_addr=("127.0.0.1", 0), reuse_address=True)
        assert "reuse_address" in str(info.value)

    run(loop, main())


def test_allow_broadcast(loop):
    async def main():
        tr, proto = await loop.create_datagram_endpoint(
            lambda: Datagrams(loop), local_addr=("127.0.0.1", 0), allow_broadcast=True)
        sock = tr.get_extra_info("socket")
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST) != 0
        await close(tr, proto)

        tr, proto = await loop.create_datagram_endpoint(
            lambda: Datagrams(loop), local_addr=("127.0.0.1", 0))
        sock = tr.get_extra_info("socket")
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST) == 0
        await close(tr, proto)

    run(loop, main())


def test_allow_broadcast_with_remote_addr_does_not_connect(loop):
    async def main():
        with udp_socket() as other:
            remote = other.getsockname()
            tr, proto = await loop.create_datagram_endpoint(
                lambda: Datagrams(loop), remote_addr=remote, allow_broadcast=True)
            # the socket is not connected, but sendto() defaults to remote_addr
            assert tr.get_extra_info("peername") is None
            tr.sendto(b"default target")
            data, _ = await loop.sock_recvfrom(other, 100)
            assert data == b"default target"
            with pytest.raises(ValueError):
                tr.sendto(b"x", ("127.0.0.1", remote[1] + 1))
            await close(tr, proto)

    run(loop, main())


def test_with_sock(loop):
    async def main():
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        tr, proto = await loop.create_datagram_endpoint(lambda: Datagrams(loop), sock=sock)
        assert tr.get_extra_info("socket").fileno() == sock.fileno()
        assert tr.get_extra_info("sockname") == sock.getsockname()
        assert sock.gettimeout() == 0  # made non-blocking
        with udp_socket() as other:
            await loop.sock_sendto(other, b"to sock", sock.getsockname())
            assert await proto.next() == (b"to sock", other.getsockname())
        await close(tr, proto)
        assert sock.fileno() == -1

    run(loop, main())


def test_sock_bad_arguments(loop):
    async def main():
        with socket.socket() as tcp:
            with pytest.raises(ValueError) as info:
                await loop.create_datagram_endpoint(lambda: Datagrams(loop), sock=tcp)
            # gh-114887 (3.11.9, 3.12.3) rejects only stream sockets, in new words
            new = sys.version_info >= (3, 12, 3) or (3, 11, 9) <= sys.version_info < (3, 12)
            kind = "datagram socket" if new else "UDP Socket"
            assert str(info.value) == f"A {kind} was expected, got {tcp!r}"
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            with pytest.raises(ValueError) as info:
                await loop.create_datagram_endpoint(
                    lambda: Datagrams(loop), local_addr=("127.0.0.1", 0), sock=udp)
            assert str(info.value) == (
                "socket modifier keyword arguments can not be used when sock is "
                "specified. (local_addr=('127.0.0.1', 0))")
            with pytest.raises(ValueError) as info:
                await loop.create_datagram_endpoint(
                    lambda: Datagrams(loop), sock=udp, family=socket.AF_INET,
                    reuse_port=True)
            assert str(info.value) == (
                "socket modifier keyword arguments can not be used when sock is "
                f"specified. (family={socket.AF_INET}, reuse_port=True)")
            assert udp.fileno() != -1

    run(loop, main())


def test_address_bad_arguments(loop):
    async def main():
        with pytest.raises(ValueError) as info:
            await loop.create_datagram_endpoint(lambda: Datagrams(loop))
        assert str(info.value) == "unexpected address family"
        with pytest.raises(TypeError) as info:
            await loop.create_datagram_endpoint(lambda: Datagrams(loop),
                                                local_addr="127.0.0.1")
        assert str(info.value) == "2-tuple is expected"
        with pytest.raises(TypeError) as info:
            await loop.create_datagram_endpoint(lambda: Datagrams(loop),
                                                remote_addr=("127.0.0.1", 1, 2))
        assert str(info.value) == "2-tuple is expected"
        with pytest.raises(TypeError) as info:
            await loop.create_datagram_endpoint(
                lambda: Datagrams(loop), family=socket.AF_UNIX, local_addr=("x", 1))
        assert str(info.value) == "string is expected"

    run(loop, main())


def test_sendto_rejects_non_bytes(loop):
    async def main():
        tr, proto = await loop.create_datagram_endpoint(
            lambda: Datagrams(loop), local_addr=("127.0.0.1", 0))
        with pytest.raises(TypeError) as info:
            tr.sendto("text", ("127.0.0.1", 9))
        assert str(info.value) == "data argument must be a bytes-like object, not 'str'"
        await close(tr, proto)

    run(loop, main())


def test_sendto_a_strided_memoryview_is_a_fatal_write_error(loop):
    async def main():
        contexts = []
        loop.set_exception_handler(lambda _loop, context: contexts.append(context))
        tr, proto = await loop.create_datagram_endpoint(
            lambda: Datagrams(loop), local_addr=("127.0.0.1", 0)
        )
        tr.sendto(memoryview(b"abcdef")[::2], tr.get_extra_info("sockname"))
        exc = await asyncio.wait_for(proto.lost, TIMEOUT)
        assert type(exc) is BufferError
        assert [c["message"] for c in contexts] == ["Fatal write error on datagram transport"]

    run(loop, main())


def test_error_received_on_refused_port(loop):
    async def main():
        placeholder = udp_socket()
        remote = placeholder.getsockname()
        placeholder.close()  # nothing listens on remote now
        tr, proto = await loop.create_datagram_endpoint(
            lambda: Datagrams(loop), remote_addr=remote)
        tr.sendto(b"anyone?")
        exc = await proto.next_error()
        assert isinstance(exc, ConnectionRefusedError)
        assert not tr.is_closing()  # errors do not close the endpoint
        await close(tr, proto)
        assert proto.events == ["made", "error", "lost"]

    run(loop, main())


def test_error_received_on_oversized_datagram(loop):
    async def main():
        tr, proto = await loop.create_datagram_endpoint(
            lambda: Datagrams(loop), local_addr=("127.0.0.1", 0))
        with udp_socket() as other:
            tr.sendto(b"x" * 70000, other.getsockname())
            exc = await proto.next_error()
            assert isinstance(exc, OSError)
            assert exc.errno == errno.EMSGSIZE
            # the endpoint still works
            tr.sendto(b"small", other.getsockname())
            assert (await loop.sock_recvfrom(other, 100))[0] == b"small"
        await close(tr, proto)

    run(loop, main())


def test_abort(loop):
    async def main():
        tr, proto = await loop.create_datagram_endpoint(
            lambda: Datagrams(loop), local_addr=("127.0.0.1", 0))
        sock = tr.get_extra_info("socket")
        tr.abort()
        assert tr.is_closing()
        assert await asyncio.wait_for(proto.lost, TIMEOUT) is None
        assert sock.fileno() == -1
        tr.close()
        assert proto.lost_calls == 1

    run(loop, main())


def test_connected_sendto_after_close_is_ignored(loop, caplog):
    async def main():
        with udp_socket() as other:
            tr, proto = await loop.create_datagram_endpoint(
                lambda: Datagrams(loop), remote_addr=other.getsockname())
            await close(tr, proto)
            with caplog.at_level("WARNING", logger="asyncio"):
                for _ in range(4):
                    tr.sendto(b"late")
                assert [r.getMessage() for r in caplog.records] == []
                tr.sendto(b"late")
                assert [r.getMessage() for r in caplog.records] == [
                    "socket.send() raised exception."]

    run(loop, main())


def test_no_fd_leak(loop):
    async def main():
        tr, proto = await loop.create_datagram_endpoint(
            lambda: Datagrams(loop), local_addr=("127.0.0.1", 0))
        await close(tr, proto)
        before = fd_count()
        for _ in range(50):
            tr, proto = await loop.create_datagram_endpoint(
                lambda: Datagrams(loop), local_addr=("127.0.0.1", 0))
            await close(tr, proto)
        assert fd_count() == before

    run(loop, main())


# -- Unix datagram sockets -----------------------------------------------------------------


def test_unix_datagram_endpoints(loop, short_tmp):
    a_path = os.path.join(short_tmp, "a.sock")
    b_path = os.path.join(short_tmp, "b.sock")

    async def main():
        tr_a, pa = await loop.create_datagram_endpoint(
            lambda: Datagrams(loop), local_addr=a_path, family=socket.AF_UNIX)
        tr_b, pb = await loop.create_datagram_endpoint(
            lambda: Datagrams(loop), local_addr=b_path, family=socket.AF_UNIX)
        sock = tr_a.get_extra_info("socket")
        assert sock.family == socket.AF_UNIX and sock.type == socket.SOCK_DGRAM
        assert tr_a.get_extra_info("sockname") == a_path
        tr_a.sendto(b"from a", b_path)
        assert await pb.next() == (b"from a", a_path)
        tr_b.sendto(b"from b", a_path)
        assert await pa.next() == (b"from b", b_path)
        await close(tr_a, pa)
        await close(tr_b, pb)

    run(loop, main())


def test_unix_datagram_remote_addr(loop, short_tmp):
    server_path = os.path.join(short_tmp, "server.sock")
    client_path = os.path.join(short_tmp, "client.sock")

    async def main():
        tr_s, ps = await loop.create_datagram_endpoint(
            lambda: Datagrams(loop), local_addr=server_path, family=socket.AF_UNIX)
        tr_c, pc = await loop.create_datagram_endpoint(
            lambda: Datagrams(loop), local_addr=client_path, remote_addr=server_path,
            family=socket.AF_UNIX)
        assert tr_c.get_extra_info("peername") == server_path
        tr_c.sendto(b"hello server")
        assert await ps.next() == (b"hello server", client_path)
        with pytest.raises(ValueError) as info:
            tr_c.sendto(b"x", client_path)
        assert str(info.value) == f"Invalid address: must be None or {server_path}"
        await close(tr_c, pc)
        await close(tr_s, ps)

    run(loop, main())


def test_unix_datagram_replaces_stale_socket_file(loop, short_tmp):
    path = os.path.join(short_tmp, "stale.sock")

    async def main():
        stale = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        stale.bind(path)
        stale.close()
        assert os.path.exists(path)
        tr, proto = await loop.create_datagram_endpoint(
            lambda: Datagrams(loop), local_addr=path, family=socket.AF_UNIX)
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as other:
            other.setblocking(False)
            await loop.sock_sendto(other, b"fresh", path)
            data, _ = await proto.next()
            assert data == b"fresh"
        await close(tr, proto)

    run(loop, main())


def test_unix_datagram_with_sock(loop):
    async def main():
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        with b:
            tr, proto = await loop.create_datagram_endpoint(lambda: Datagrams(loop), sock=a)
            b.setblocking(False)
            await loop.sock_sendall(b, b"pair datagram")
            data, _ = await proto.next()
            assert data == b"pair datagram"
            await close(tr, proto)
            assert a.fileno() == -1

    run(loop, main())


def test_sendto_without_an_address_on_a_socketpair(aioxide_loop):
    # A Unix socketpair is connected but getpeername() names no peer. uvloop and aioxide
    # send such a datagram with send(2); stdlib asyncio calls sendto(data, None), a
    # fatal TypeError.
    loop = aioxide_loop

    async def main():
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        with b:
            tr, proto = await loop.create_datagram_endpoint(lambda: Datagrams(loop), sock=a)
            b.setblocking(False)
            tr.sendto(b"to the pair")
            assert await asyncio.wait_for(loop.sock_recv(b, 100), TIMEOUT) == b"to the pair"
            assert not tr.is_closing()
            await close(tr, proto)

    run(loop, main())


def test_sendto_without_an_address_when_there_is_no_peer(loop):
    # Nowhere to send: asyncio's sock.sendto(data, None) raises TypeError, a fatal write
    # error that closes the transport (aioxide gives the same once send(2) finds no peer).
    async def main():
        contexts = []
        loop.set_exception_handler(lambda _loop, context: contexts.append(context))
        tr, proto = await loop.create_datagram_endpoint(
            lambda: Datagrams(loop), local_addr=("127.0.0.1", 0)
        )
        tr.sendto(b"nowhere")
        exc = await asyncio.wait_for(proto.lost, TIMEOUT)
        assert type(exc) is TypeError
        assert str(exc) == "sendto(): AF_INET address must be tuple, not NoneType"
        assert tr.is_closing()
        assert [c["message"] for c in contexts] == ["Fatal write error on datagram transport"]
        assert contexts[0]["exception"] is exc
        assert proto.errors.empty()

    run(loop, main())


def test_each_sender_gets_its_own_address(loop):
    # The transport reuses the last sender's address object while the sender stays the
    # same; alternating senders must still each be named right.
    async def main():
        tr, proto = await loop.create_datagram_endpoint(
            lambda: Datagrams(loop), local_addr=("127.0.0.1", 0))
        target = tr.get_extra_info("sockname")
        senders = [udp_socket(), udp_socket()]
        try:
            for i in range(6):
                sender = senders[i % 2]
                sender.sendto(b"n%d" % i, target)
                assert await proto.next() == (b"n%d" % i, sender.getsockname())
        finally:
            for sender in senders:
                sender.close()
        await close(tr, proto)

    run(loop, main())


def test_abstract_unix_sender_address_is_bytes(loop):
    name = b"\0aioxide-test-%d" % os.getpid()

    async def main():
        tr, proto = await loop.create_datagram_endpoint(
            lambda: Datagrams(loop), local_addr=("127.0.0.1", 0))
        tr.close()
        receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        receiver.bind(name + b"-rx")
        sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sender.bind(name)
        with receiver, sender:
            receiver.setblocking(False)
            tr2, proto2 = await loop.create_datagram_endpoint(
                lambda: Datagrams(loop), sock=receiver.dup())
            sender.sendto(b"abstract", name + b"-rx")
            assert await proto2.next() == (b"abstract", name)
            await close(tr2, proto2)
        await asyncio.wait_for(proto.lost, TIMEOUT)

    run(loop, main())


class Flow(Datagrams):
    def __init__(self, loop):
        super().__init__(loop)
        self.resumed = loop.create_future()

    def pause_writing(self):
        self.events.append("pause")

    def resume_writing(self):
        self.events.append("resume")
        self.resumed.set_result(None)


def test_queued_datagrams_pause_then_resume_the_protocol_and_arrive_in_order(loop, short_tmp):
    # A Unix datagram receiver that does not read: sends start to block, the transport
    # queues, and the protocol is paused above the high-water mark.
    path = os.path.join(short_tmp, "rx.sock")
    b = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    b.bind(path)
    b.setblocking(False)

    async def main():
        tr, proto = await loop.create_datagram_endpoint(
            lambda: Flow(loop), remote_addr=path, family=socket.AF_UNIX)
        tr.set_write_buffer_limits(high=4096, low=1024)
        sent = 0
        while "pause" not in proto.events and sent < 100_000:
            tr.sendto(b"%08d" % sent + bytes(1016))
            sent += 1
        assert proto.events == ["made", "pause"]
        assert tr.get_write_buffer_size() > 4096
        received = []

        def drain():
            while True:
                try:
                    received.append(b.recv(2048))
                except BlockingIOError:
                    return

        loop.add_reader(b.fileno(), drain)
        await asyncio.wait_for(proto.resumed, TIMEOUT)
        for _ in range(500):
            if len(received) == sent:
                break
            await asyncio.sleep(0.01)
        loop.remove_reader(b.fileno())
        assert [int(d[:8]) for d in received] == list(range(sent))
        assert proto.events == ["made", "pause", "resume"]
        await close(tr, proto)

    with b:
        run(loop, main())
