"""The benchmark workloads, and the one-measurement entry point ``run.py`` spawns.

    python benches/workloads.py <loop> <workload> [--scale S]

builds a fresh loop, runs one workload once and prints one JSON line:
``{"loop", "workload", "n", "seconds"}``. Each workload times only the loop work
(time.perf_counter around it); building the loop, sockets or RNG is outside the timing.
Each one checks its own result and exits non-zero if the loop got it wrong.

Workloads (n is the base size times --scale):

call_soon        10 independent call_soon chains: each callback schedules the next one
                 in its chain with call_soon(cb, arg), n callbacks in all, so each loop
                 iteration runs about 10 ready callbacks; the last one stops the loop.
call_later       n call_later timers, delays uniform in [0, 0.01) s (random.Random(1234)),
                 all scheduled up front (scheduling is timed); run until the last fires.
sleep0_tasks     n tasks, each awaiting asyncio.sleep(0) ten times, under one gather.
futures          one coroutine, n times: create_future, call_soon(fut.set_result, i),
                 await fut.
sock_pingpong    non-blocking socketpair; a client coroutine sends 64 bytes with
                 sock_sendall and reads the echo with sock_recv, an echo coroutine on the
                 other end answers with sock_recv/sock_sendall; n round trips.
reader_pingpong  the same ping-pong driven by add_reader callbacks on both ends, with
                 plain sock.recv/sock.send inside the callbacks; n round trips.
echo_protocol    a TCP echo over transports and Protocol objects, client and server on
                 one loop; n round trips of 64 bytes.
pipe_pingpong    the same over two os.pipe()s and four pipe transports
                 (connect_read_pipe/connect_write_pipe); n round trips of 64 bytes.
udp_pingpong     the same with UDP datagram endpoints on loopback (a connected client,
                 an echo server answering with sendto(data, addr)); n round trips.
subprocess_spawn n times: spawn /bin/true and wait for it.
call_soon_deep, timers_cancelled, stream_readexactly, stream_readline: see shapes.py.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import socket
import sys
import time
from typing import Callable

from _subproc import warm_malloc
from loops import LOOP_NAMES, new_loop
from shapes import SHAPES, call_soon_chains, countdown, timer_delays

PAYLOAD = bytes(range(64))
CALL_SOON_CHAINS = 10
SLEEPS_PER_TASK = 10


def call_soon(loop: asyncio.AbstractEventLoop, n: int) -> float:
    return call_soon_chains(loop, n, CALL_SOON_CHAINS)


def call_later(loop: asyncio.AbstractEventLoop, n: int) -> float:
    delays = timer_delays(n)
    fire, fired = countdown(loop, n)
    start = time.perf_counter()
    for delay in delays:
        loop.call_later(delay, fire)
    loop.run_forever()
    elapsed = time.perf_counter() - start
    _check(fired() == n, f"call_later fired {fired()} timers, expected {n}")
    return elapsed


async def _sleeper() -> int:
    for _ in range(SLEEPS_PER_TASK):
        await asyncio.sleep(0)
    return 1


async def _sleep0_main(n: int) -> int:
    return sum(await asyncio.gather(*[_sleeper() for _ in range(n)]))


def sleep0_tasks(loop: asyncio.AbstractEventLoop, n: int) -> float:
    start = time.perf_counter()
    total = loop.run_until_complete(_sleep0_main(n))
    elapsed = time.perf_counter() - start
    _check(total == n, f"sleep0_tasks finished {total} tasks, expected {n}")
    return elapsed


async def _futures_main(n: int) -> int:
    loop = asyncio.get_running_loop()
    total = 0
    for i in range(n):
        fut = loop.create_future()
        loop.call_soon(fut.set_result, i)
        total += await fut
    return total


def futures(loop: asyncio.AbstractEventLoop, n: int) -> float:
    start = time.perf_counter()
    total = loop.run_until_complete(_futures_main(n))
    elapsed = time.perf_counter() - start
    _check(total == n * (n - 1) // 2, "futures: wrong sum of results")
    return elapsed


def _socketpair() -> tuple[socket.socket, socket.socket]:
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    return a, b


async def _echo(loop: asyncio.AbstractEventLoop, sock: socket.socket) -> None:
    while True:
        data = await loop.sock_recv(sock, 4096)
        if not data:
            return
        await loop.sock_sendall(sock, data)


async def _sock_pingpong_main(a: socket.socket, b: socket.socket, n: int) -> int:
    loop = asyncio.get_running_loop()
    echo = loop.create_task(_echo(loop, b))
    trips = 0
    for _ in range(n):
        await loop.sock_sendall(a, PAYLOAD)
        got = b""
        while len(got) < len(PAYLOAD):
            chunk = await loop.sock_recv(a, len(PAYLOAD) - len(got))
            _check(chunk != b"", "sock_pingpong: echo side closed early")
            got += chunk
        _check(got == PAYLOAD, "sock_pingpong: echoed bytes differ")
        trips += 1
    a.shutdown(socket.SHUT_WR)
    await echo
    return trips


def sock_pingpong(loop: asyncio.AbstractEventLoop, n: int) -> float:
    a, b = _socketpair()
    try:
        start = time.perf_counter()
        trips = loop.run_until_complete(_sock_pingpong_main(a, b, n))
        elapsed = time.perf_counter() - start
    finally:
        a.close()
        b.close()
    _check(trips == n, f"sock_pingpong made {trips} round trips, expected {n}")
    return elapsed


def reader_pingpong(loop: asyncio.AbstractEventLoop, n: int) -> float:
    a, b = _socketpair()
    done = loop.create_future()
    state = {"trips": 0, "got": b""}

    def on_echo_side() -> None:
        data = b.recv(4096)
        if data:
            b.send(data)  # 64 bytes always fit in an empty socket buffer

    def on_client_side() -> None:
        state["got"] += a.recv(4096)
        if len(state["got"]) < len(PAYLOAD):
            return
        if state["got"] != PAYLOAD:
            done.set_exception(AssertionError("reader_pingpong: echoed bytes differ"))
            return
        state["got"] = b""
        state["trips"] += 1
        if state["trips"] == n:
            done.set_result(None)
        else:
            a.send(PAYLOAD)

    try:
        start = time.perf_counter()
        loop.add_reader(b.fileno(), on_echo_side)
        loop.add_reader(a.fileno(), on_client_side)
        a.send(PAYLOAD)
        loop.run_until_complete(done)
        loop.remove_reader(a.fileno())
        loop.remove_reader(b.fileno())
        elapsed = time.perf_counter() - start
    finally:
        a.close()
        b.close()
    _check(state["trips"] == n, f"reader_pingpong made {state['trips']} trips, expected {n}")
    return elapsed


# name -> (base size at --scale 1.0, workload)
class _EchoServer(asyncio.Protocol):
    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.transport.write(data)


class _EchoClient(asyncio.Protocol):
    """Sends a 1 KiB message, waits for all of it to come back, ``n`` times."""

    def __init__(self, n: int, done: asyncio.Future) -> None:
        self.left, self.done = n, done
        self.message = b"x" * 1024
        self.pending = 0

    def connection_made(self, transport) -> None:
        self.transport = transport
        self._send()

    def _send(self) -> None:
        self.pending = len(self.message)
        self.transport.write(self.message)

    def data_received(self, data: bytes) -> None:
        self.pending -= len(data)
        if self.pending:
            return
        self.left -= 1
        if self.left:
            self._send()
        else:
            self.done.set_result(True)


async def _echo_protocol_main(n: int) -> bool:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_EchoServer, "127.0.0.1", 0)
    done = loop.create_future()
    transport, _ = await loop.create_connection(lambda: _EchoClient(n, done),
                                                *server.sockets[0].getsockname()[:2])
    ok = await done
    transport.close()
    server.close()
    await server.wait_closed()
    return ok


def _timed_round_trips(loop: asyncio.AbstractEventLoop, main, name: str) -> float:
    """Run a ping-pong coroutine that returns True when every round trip came back."""
    start = time.perf_counter()
    ok = loop.run_until_complete(main)
    elapsed = time.perf_counter() - start
    _check(ok is True, f"{name} did not finish")
    return elapsed


def echo_protocol(loop: asyncio.AbstractEventLoop, n: int) -> float:
    """A TCP echo over transports and ``Protocol`` objects, client and server on the
    same loop (loopback)."""
    return _timed_round_trips(loop, _echo_protocol_main(n), "echo_protocol")


class _PipeEcho(asyncio.Protocol):
    """Read end of the first pipe: writes what arrives to the second pipe."""

    def __init__(self) -> None:
        self.out: asyncio.WriteTransport | None = None

    def data_received(self, data: bytes) -> None:
        self.out.write(data)


class _PipeClient(asyncio.Protocol):
    """Read end of the second pipe: counts echoes and sends the next message."""

    def __init__(self, n: int, done: asyncio.Future) -> None:
        self.remaining = n
        self.pending = len(PAYLOAD)
        self.done = done
        self.out: asyncio.WriteTransport | None = None

    def data_received(self, data: bytes) -> None:
        self.pending -= len(data)
        if self.pending > 0:
            return
        self.remaining -= 1
        if self.remaining:
            self.pending = len(PAYLOAD)
            self.out.write(PAYLOAD)
        else:
            self.done.set_result(True)


async def _pipe_pingpong_main(n: int) -> bool:
    loop = asyncio.get_running_loop()
    r1, w1 = os.pipe()
    r2, w2 = os.pipe()
    files = [open(fd, mode, 0) for fd, mode in ((r1, "rb"), (w1, "wb"), (r2, "rb"), (w2, "wb"))]
    done = loop.create_future()
    echo, client = _PipeEcho(), _PipeClient(n, done)
    transports = [
        (await loop.connect_read_pipe(lambda: echo, files[0]))[0],
        (await loop.connect_write_pipe(asyncio.Protocol, files[1]))[0],
        (await loop.connect_read_pipe(lambda: client, files[2]))[0],
        (await loop.connect_write_pipe(asyncio.Protocol, files[3]))[0],
    ]
    client.out, echo.out = transports[1], transports[3]
    client.out.write(PAYLOAD)
    ok = await done
    for transport in transports:
        transport.close()
    await asyncio.sleep(0)
    for f in files:
        f.close()
    return ok


def pipe_pingpong(loop: asyncio.AbstractEventLoop, n: int) -> float:
    """64-byte messages through two pipes and four pipe transports, echoed by a
    ``Protocol`` on the same loop; ``n`` round trips."""
    return _timed_round_trips(loop, _pipe_pingpong_main(n), "pipe_pingpong")


class _UdpEcho(asyncio.DatagramProtocol):
    def connection_made(self, transport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:
        self.transport.sendto(data, addr)


class _UdpClient(asyncio.DatagramProtocol):
    def __init__(self, n: int, done: asyncio.Future) -> None:
        self.remaining = n
        self.done = done

    def connection_made(self, transport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:
        self.remaining -= 1
        if self.remaining:
            self.transport.sendto(data)
        elif not self.done.done():
            self.done.set_result(data == PAYLOAD)


async def _udp_pingpong_main(n: int) -> bool:
    loop = asyncio.get_running_loop()
    server, _ = await loop.create_datagram_endpoint(_UdpEcho, local_addr=("127.0.0.1", 0))
    done = loop.create_future()
    client, _ = await loop.create_datagram_endpoint(
        lambda: _UdpClient(n, done), remote_addr=server.get_extra_info("sockname"))
    client.sendto(PAYLOAD)
    ok = await done
    client.close()
    server.close()
    await asyncio.sleep(0)
    return ok


def udp_pingpong(loop: asyncio.AbstractEventLoop, n: int) -> float:
    """64-byte UDP datagrams on loopback between two datagram endpoints on one loop:
    a connected client and an echo server answering with ``sendto(data, addr)``."""
    return _timed_round_trips(loop, _udp_pingpong_main(n), "udp_pingpong")


async def _spawn_main(n: int) -> int:
    ok = 0
    for _ in range(n):
        proc = await asyncio.create_subprocess_exec("/bin/true")
        ok += await proc.wait() == 0
    return ok


def subprocess_spawn(loop: asyncio.AbstractEventLoop, n: int) -> float:
    """Spawn ``/bin/true`` and wait for it, ``n`` times in a row."""
    asyncio.set_event_loop(loop)  # asyncio's own child watcher looks for the current loop
    start = time.perf_counter()
    ok = loop.run_until_complete(_spawn_main(n))
    elapsed = time.perf_counter() - start
    _check(ok == n, f"subprocess_spawn: {ok} of {n} children exited 0")
    return elapsed


WORKLOADS: dict[str, tuple[int, Callable[[asyncio.AbstractEventLoop, int], float]]] = {
    "call_soon": (1_000_000, call_soon),
    "call_later": (100_000, call_later),
    "sleep0_tasks": (100_000, sleep0_tasks),
    "futures": (100_000, futures),
    "sock_pingpong": (20_000, sock_pingpong),
    "reader_pingpong": (20_000, reader_pingpong),
    "echo_protocol": (20_000, echo_protocol),
    "pipe_pingpong": (20_000, pipe_pingpong),
    "udp_pingpong": (20_000, udp_pingpong),
    "subprocess_spawn": (1_000, subprocess_spawn),
    **SHAPES,
}


def size_for(workload: str, scale: float) -> int:
    return max(1, round(WORKLOADS[workload][0] * scale))


class WorkloadError(Exception):
    """The loop produced a wrong result."""


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise WorkloadError(message)


def measure(loop_name: str, workload: str, scale: float) -> dict:
    n = size_for(workload, scale)
    loop = new_loop(loop_name)
    try:
        gc.collect()
        seconds = WORKLOADS[workload][1](loop, n)
    finally:
        loop.close()
    return {"loop": loop_name, "workload": workload, "n": n, "seconds": seconds}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("loop", choices=LOOP_NAMES)
    parser.add_argument("workload", choices=list(WORKLOADS))
    parser.add_argument("--scale", type=float, default=1.0)
    args = parser.parse_args()
    warm_malloc()  # same heap state for every loop (see _subproc.warm_malloc)
    print(json.dumps(measure(args.loop, args.workload, args.scale)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
