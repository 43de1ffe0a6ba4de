"""Where I/O callbacks fall among call_soon callbacks, on every loop.

asyncio polls on every iteration that has callbacks ready, so a descriptor that turns
ready during an iteration has its callback in the next one, and a native transport that
drained its socket still sees the next send there. A loop that skips polls (rloop does,
for up to 250 µs) runs that I/O iterations late; these pin asyncio's order.
"""

from __future__ import annotations

import asyncio


def chain(loop, order, steps, actions):
    """call_soon links 0..steps-1, one per iteration; `actions[i]()` runs in link i."""

    def link(i):
        order.append(i)
        if i in actions:
            actions[i]()
        if i + 1 < steps:
            loop.call_soon(link, i + 1)
        else:
            loop.stop()

    loop.call_soon(link, 0)
    safety = loop.call_later(5, loop.stop)
    loop.run_forever()
    safety.cancel()


def test_a_send_in_one_iteration_is_read_in_the_next(loop, pair):
    a, b = pair
    order = []
    loop.add_reader(b, lambda: order.append(("io", b.recv(100))))
    chain(loop, order, 6, {1: lambda: a.send(b"x"), 3: lambda: a.send(b"y")})
    loop.remove_reader(b)
    assert order == [0, 1, 2, ("io", b"x"), 3, 4, ("io", b"y"), 5]


class Recorder(asyncio.Protocol):
    def __init__(self, order):
        self.order = order

    def data_received(self, data):
        self.order.append(("io", data))


def test_a_transport_that_drained_its_socket_still_sees_the_next_send(loop, pair):
    # The transport's reader drains the socket; the iterations after it may skip their
    # poll, but not the one after the next send.
    a, b = pair
    order = []

    async def connect():
        return await loop.connect_accepted_socket(lambda: Recorder(order), b)

    transport, _ = loop.run_until_complete(connect())
    sends = {1: lambda: a.send(b"x"), 4: lambda: a.send(b"y"), 6: lambda: a.send(b"z")}
    chain(loop, order, 8, sends)
    transport.close()
    loop.run_until_complete(asyncio.sleep(0))
    assert order == [0, 1, 2, ("io", b"x"), 3, 4, 5, ("io", b"y"), 6, 7, ("io", b"z")]


def test_data_from_another_thread_is_read_while_callbacks_keep_coming(loop, pair):
    # A loop that always has callbacks ready must still poll when a descriptor turns
    # ready from outside: no starvation.
    import threading

    a, b = pair
    got = []
    loop.add_reader(b, lambda: (got.append(b.recv(100)), loop.stop()))
    writer = threading.Timer(0.05, a.send, (b"ping",))

    def spin():
        loop.call_soon(spin)

    loop.call_soon(spin)
    writer.start()
    safety = loop.call_later(5, loop.stop)
    loop.run_forever()
    safety.cancel()
    writer.join()
    loop.remove_reader(b)
    assert got == [b"ping"]
