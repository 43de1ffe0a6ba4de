"""The accept path of a plain server (native on aioxide): failures while setting up a
connection, debug mode, running out of descriptors, a loop's own transport maker, and
the extra info of accepted Unix connections."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import subprocess
import sys
import tempfile
import textwrap

from _transport_helpers import TIMEOUT, Accepting, Recorder, close_and_wait, run


@contextlib.asynccontextmanager
async def tcp_connection(loop):
    """A server on loopback and one connection to it, once the server side is made:
    yields (client transport, server protocol); closes both after."""
    acc = Accepting(loop)
    server = await loop.create_server(acc, "127.0.0.1", 0)
    addr = server.sockets[0].getsockname()
    async with server:
        tr, client = await loop.create_connection(lambda: Recorder(loop), *addr)
        peer = await asyncio.wait_for(acc.next(), TIMEOUT)
        await asyncio.wait_for(peer.made, TIMEOUT)
        try:
            yield tr, peer
        finally:
            await close_and_wait(client)


def test_a_failing_factory_closes_that_connection_and_serving_goes_on(loop):
    loop.set_debug(False)  # (PYTHONASYNCIODEBUG=1 runs would report it)
    errors = []
    loop.set_exception_handler(lambda _loop, context: errors.append(context))
    calls = []

    def factory():
        calls.append(None)
        if len(calls) == 1:
            raise RuntimeError("no protocol for you")
        return Recorder(loop, echo=True)

    async def main():
        server = await loop.create_server(factory, "127.0.0.1", 0)
        addr = server.sockets[0].getsockname()
        async with server:
            tr, first = await loop.create_connection(lambda: Recorder(loop), *addr)
            # the server closes it: the client sees end of stream
            assert await asyncio.wait_for(first.lost, TIMEOUT) is None
            tr, second = await loop.create_connection(lambda: Recorder(loop), *addr)
            tr.write(b"ping")
            assert await asyncio.wait_for(second.received(4), TIMEOUT) == b"ping"
            await close_and_wait(second)

    run(loop, main())
    assert len(calls) == 2
    assert errors == []  # asyncio reports it in debug mode only


def test_debug_mode_logs_each_connection_and_a_failing_factory(loop, caplog):
    loop.set_debug(True)
    errors = []
    loop.set_exception_handler(lambda _loop, context: errors.append(context))

    def factory():
        raise RuntimeError("no protocol for you")

    async def main():
        server = await loop.create_server(factory, "127.0.0.1", 0)
        addr = server.sockets[0].getsockname()
        async with server:
            tr, client = await loop.create_connection(lambda: Recorder(loop), *addr)
            # (asyncio leaves the failed connection's socket to the garbage collector;
            # the error held here keeps it open)
            for _ in range(TIMEOUT * 100):
                if errors:
                    break
                await asyncio.sleep(0.01)
            tr.close()

    with caplog.at_level(logging.DEBUG, logger="asyncio"):
        run(loop, main())
    assert any("got a new connection from" in r.getMessage() for r in caplog.records)
    assert [c["message"] for c in errors] == [
        "Error on transport creation for incoming connection"]
    assert str(errors[0]["exception"]) == "no protocol for you"


def test_a_loops_own_transport_maker_serves_accepted_connections(loop):
    made = []
    original = loop._make_socket_transport

    def maker(sock, protocol, waiter=None, *, extra=None, server=None):
        if server is not None:  # an accepted connection, not the client's
            made.append(extra["peername"])
        return original(sock, protocol, waiter, extra=extra, server=server)

    loop._make_socket_transport = maker  # asyncio's own loops call it per connection

    async def main():
        async with tcp_connection(loop) as (tr, _peer):
            return tr.get_extra_info("sockname")

    client_name = run(loop, main())
    assert made[-1] == client_name


def test_accepted_unix_connections_have_asyncios_extra_info(loop):
    async def main(path):
        acc = Accepting(loop)
        server = await loop.create_unix_server(acc, path)
        async with server:
            tr, client = await loop.create_unix_connection(lambda: Recorder(loop), path)
            peer = await asyncio.wait_for(acc.next(), TIMEOUT)
            await asyncio.wait_for(peer.made, TIMEOUT)
            names = (tr.get_extra_info("sockname"), tr.get_extra_info("peername"),
                     peer.transport.get_extra_info("sockname"),
                     peer.transport.get_extra_info("peername"))
            assert isinstance(peer.transport.get_extra_info("socket").fileno(), int)
            await close_and_wait(client)
            return names

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "sock")
        # an unbound client socket has the empty name, as socket.getsockname() says
        assert run(loop, main(path)) == ("", path, path, "")


def test_tcp_nodelay_is_set_on_both_ends(loop):
    async def main():
        async with tcp_connection(loop) as (tr, peer):
            return [t.get_extra_info("socket").getsockopt(
                socket.IPPROTO_TCP, socket.TCP_NODELAY) for t in (tr, peer.transport)]

    assert all(run(loop, main()))


_OUT_OF_FDS = textwrap.dedent("""
    import asyncio, resource, socket, sys
    import aioxide

    async def main():
        loop = asyncio.get_running_loop()
        seen = []
        loop.set_exception_handler(lambda _l, c: seen.append(c))
        made = []
        server = await loop.create_server(lambda: made.append(1) or asyncio.Protocol(),
                                          "127.0.0.1", 0)
        addr = server.sockets[0].getsockname()
        # no descriptor left for accept(): the server must pause, not spin or crash
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        hog = []
        try:
            while True:
                hog.append(socket.socket())
        except OSError:
            pass
        hog.pop().close()  # room for the client socket only
        client = socket.socket()
        client.setblocking(False)
        try:
            client.connect(addr)
        except BlockingIOError:
            pass
        while not seen:
            await asyncio.sleep(0.01)
        for s in hog:
            s.close()
        # accepting resumes after asyncio's retry delay (1 s)
        for _ in range(500):
            if made:
                break
            await asyncio.sleep(0.01)
        client.close()
        server.close()
        await server.wait_closed()
        context = seen[0]
        print(context["message"], context["exception"].errno, len(made))

    asyncio.run(main(), loop_factory=getattr(sys.modules[sys.argv[1]], "new_event_loop"))
""")


def test_running_out_of_descriptors_pauses_accepting_then_resumes(loop):
    module = type(loop).__module__.split(".")[0]
    module = "aioxide" if module == "aioxide" else "asyncio"
    script = _OUT_OF_FDS
    if sys.version_info < (3, 12):  # asyncio.run has no loop_factory before 3.12
        script = script.replace(
            'asyncio.run(main(), loop_factory=getattr(sys.modules[sys.argv[1]], '
            '"new_event_loop"))',
            'asyncio.Runner(loop_factory=getattr(sys.modules[sys.argv[1]], '
            '"new_event_loop")).run(main())')
    prelude = "import resource\nresource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))\n"
    done = subprocess.run([sys.executable, "-c", prelude + script, module],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["socket.accept()", "out", "of", "system", "resource",
                                   "24", "1"]
