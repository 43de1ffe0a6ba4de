"""Workload shapes that separate the loops more than the basic ones do (see workloads.py
for the entry point and the rules every workload follows).

call_soon_deep     1,000 independent call_soon chains, n callbacks in all: about 1,000
                   ready callbacks per loop iteration (call_soon keeps about 10).
timers_cancelled   n call_later timers, delays uniform in [0, 0.01) s, nine in ten
                   cancelled right after scheduling (the loop running); run until the
                   last live one fires.
stream_readexactly a stream ping-pong over a socketpair: the client writes a 4-byte
                   length and a 60-byte body, the echo side answers with readexactly(4),
                   readexactly(length), write, drain; n round trips (timed;
                   set-up and teardown are not).
stream_readline    the same with one 63-byte line and readline() on both sides.
connect_close      n TCP connections to a create_server on loopback, one after another:
                   connect, the server's connection_made, client close, both sides'
                   connection_lost (accept rate: connections per second = n / time).
"""

from __future__ import annotations

import asyncio
import functools
import random
import socket
import time

DEEP_CHAINS = 1_000
TIMER_SPREAD = 0.01  # seconds
CANCELLED_PER_TEN = 9
BODY = bytes(range(60))
LINE = bytes(range(32, 95)) + b"\n"


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise RuntimeError(message)


def call_soon_chains(loop: asyncio.AbstractEventLoop, n: int, chains: int) -> float:
    """``chains`` independent call_soon chains, each callback scheduling the next one in
    its chain with call_soon(cb, arg), n callbacks in all; the last one stops the loop."""
    remaining = n

    def step(arg: int) -> None:
        nonlocal remaining
        if remaining <= 0:
            return  # a chain's last link, run after stop() in the same iteration
        remaining -= 1
        if remaining > 0:
            loop.call_soon(step, arg + 1)
        else:
            loop.stop()

    start = time.perf_counter()
    for chain in range(min(chains, n)):
        loop.call_soon(step, chain)
    loop.run_forever()
    elapsed = time.perf_counter() - start
    _check(remaining == 0, f"call_soon ran {n - remaining} callbacks, expected {n}")
    return elapsed


def call_soon_deep(loop: asyncio.AbstractEventLoop, n: int) -> float:
    return call_soon_chains(loop, n, DEEP_CHAINS)


def timer_delays(n: int) -> list[float]:
    """``n`` delays uniform in [0, TIMER_SPREAD), the same on every run."""
    rng = random.Random(1234)
    return [rng.random() * TIMER_SPREAD for _ in range(n)]


def countdown(loop: asyncio.AbstractEventLoop, target: int):
    """A timer callback that stops the loop once it has run ``target`` times (a plain
    closure, as the timer workloads have always used), and a function giving its count."""
    fired = 0

    def fire() -> None:
        nonlocal fired
        fired += 1
        if fired == target:
            loop.stop()

    return fire, lambda: fired


def timers_cancelled(loop: asyncio.AbstractEventLoop, n: int) -> float:
    delays = timer_delays(n)
    live = sum(1 for i in range(n) if i % 10 >= CANCELLED_PER_TEN)
    fire, fired = countdown(loop, live)

    def schedule() -> None:
        for i, delay in enumerate(delays):
            timer = loop.call_later(delay, fire)
            if i % 10 < CANCELLED_PER_TEN:
                timer.cancel()

    start = time.perf_counter()
    loop.call_soon(schedule)
    loop.run_forever()
    elapsed = time.perf_counter() - start
    _check(fired() == live, f"timers_cancelled fired {fired()} timers, expected {live}")
    return elapsed


async def _framed_echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while True:
        try:
            header = await reader.readexactly(4)
        except asyncio.IncompleteReadError:
            return
        body = await reader.readexactly(int.from_bytes(header, "big"))
        writer.write(header + body)
        await writer.drain()


async def _line_echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while line := await reader.readline():
        writer.write(line)
        await writer.drain()


async def _streams_main(n: int, framed: bool) -> tuple[int, float]:
    a, b = socket.socketpair()
    echo_reader, echo_writer = await asyncio.open_connection(sock=b)
    reader, writer = await asyncio.open_connection(sock=a)
    echo = asyncio.ensure_future((_framed_echo if framed else _line_echo)(echo_reader,
                                                                           echo_writer))
    message = len(BODY).to_bytes(4, "big") + BODY if framed else LINE
    trips = 0
    start = time.perf_counter()
    for _ in range(n):
        writer.write(message)
        await writer.drain()
        if framed:
            header = await reader.readexactly(4)
            got = header + await reader.readexactly(int.from_bytes(header, "big"))
        else:
            got = await reader.readline()
        trips += got == message
    elapsed = time.perf_counter() - start
    echo.cancel()  # not timed; some loops never report the peer's close here
    writer.close()
    echo_writer.close()
    await asyncio.gather(echo, return_exceptions=True)
    return trips, elapsed


def _streams(loop: asyncio.AbstractEventLoop, n: int, framed: bool) -> float:
    trips, elapsed = loop.run_until_complete(_streams_main(n, framed))
    _check(trips == n, f"streams made {trips} good round trips, expected {n}")
    return elapsed


def stream_readexactly(loop: asyncio.AbstractEventLoop, n: int) -> float:
    return _streams(loop, n, framed=True)


def stream_readline(loop: asyncio.AbstractEventLoop, n: int) -> float:
    return _streams(loop, n, framed=False)


class _Counting(asyncio.Protocol):
    """The server side: counts connections lost and wakes the waiter at ``target``."""

    def __init__(self, state: dict) -> None:
        self.state = state

    def connection_lost(self, exc) -> None:
        self.state["lost"] += 1
        if self.state["lost"] == self.state["target"]:
            self.state["done"].set_result(None)


class _Client(asyncio.Protocol):
    def __init__(self, lost: asyncio.Future) -> None:
        self.lost = lost

    def connection_made(self, transport) -> None:
        transport.close()

    def connection_lost(self, exc) -> None:
        self.lost.set_result(exc)


async def _connect_close_main(n: int) -> tuple[int, float]:
    loop = asyncio.get_running_loop()
    state = {"lost": 0, "target": n, "done": loop.create_future()}
    server = await loop.create_server(lambda: _Counting(state), "127.0.0.1", 0, backlog=128)
    host, port = server.sockets[0].getsockname()[:2]
    start = time.perf_counter()
    for _ in range(n):
        lost = loop.create_future()
        await loop.create_connection(functools.partial(_Client, lost), host, port)
        await asyncio.wait_for(lost, 10)
    try:  # rloop 0.5 misses some peers' closes on the server side
        await asyncio.wait_for(state["done"], 10)
    except asyncio.TimeoutError:
        raise RuntimeError(f"the server saw {state['lost']} of {n} connections end") from None
    elapsed = time.perf_counter() - start
    server.close()
    await server.wait_closed()
    return state["lost"], elapsed


def connect_close(loop: asyncio.AbstractEventLoop, n: int) -> float:
    lost, elapsed = loop.run_until_complete(_connect_close_main(n))
    _check(lost == n, f"connect_close: the server saw {lost} of {n} connections end")
    return elapsed


# name -> (base size at --scale 1.0, workload); workloads.py adds these to its table.
SHAPES = {
    "call_soon_deep": (1_000_000, call_soon_deep),
    "timers_cancelled": (100_000, timers_cancelled),
    "stream_readexactly": (20_000, stream_readexactly),
    "stream_readline": (20_000, stream_readline),
    "connect_close": (10_000, connect_close),
}
