"""add_reader / remove_reader / add_writer / remove_writer (level-triggered)."""

from __future__ import annotations

import asyncio
import errno
import os
import socket

import pytest


def stop_after(loop, seconds=2.0):
    """A safety net: stop the loop if the test's own stop never comes."""
    return loop.call_later(seconds, loop.stop)


def test_reader_fires_when_readable(loop, pair):
    a, b = pair
    got = []

    def on_readable(sock, tag):
        got.append((tag, sock.recv(100)))
        loop.stop()

    loop.add_reader(b.fileno(), on_readable, b, "tag")
    loop.call_soon(a.send, b"hello")
    safety = stop_after(loop)
    loop.run_forever()
    safety.cancel()
    assert got == [("tag", b"hello")]
    assert loop.remove_reader(b.fileno()) is True


def test_a_descriptor_that_stays_ready_is_reported_on_every_iteration(loop, pair):
    # asyncio polls on every iteration with callbacks ready when anything is watched, so
    # a ready descriptor's callback runs in each iteration, between the links of a
    # call_soon chain; code that counts on that order (asyncssh's redirects) notices a
    # loop that skips polls.
    a, b = pair
    a.send(b"x")  # never read: b stays readable
    order = []

    def link(i):
        order.append(i)
        if i < 4:
            loop.call_soon(link, i + 1)
        else:
            loop.stop()

    loop.add_reader(b, order.append, "io")
    loop.call_soon(link, 0)
    safety = stop_after(loop)
    loop.run_forever()
    safety.cancel()
    loop.remove_reader(b)
    assert order == [0, "io", 1, "io", 2, "io", 3, "io", 4, "io"]


def test_data_waiting_in_a_new_read_pipe_comes_before_callbacks_scheduled_after_it(loop):
    # asyncssh's redirect_stdin: a new read pipe whose data is already waiting, then the
    # old pipe's transport closed; the new data arrives before the old connection_lost.
    events = []

    class Recorder(asyncio.Protocol):
        def __init__(self, name):
            self.name = name

        def data_received(self, data):
            events.append((self.name, data))

        def connection_lost(self, exc):
            events.append((self.name, "lost"))

    async def main():
        pairs = [socket.socketpair() for _ in range(2)]
        for (near, _), data in zip(pairs, (b"old", b"new"), strict=True):
            near.send(data)
        files = [os.fdopen(far.detach(), "rb", buffering=0) for _, far in pairs]
        old, _ = await loop.connect_read_pipe(lambda: Recorder("old"), files[0])
        await asyncio.sleep(0.05)
        new, _ = await loop.connect_read_pipe(lambda: Recorder("new"), files[1])
        old.close()
        await asyncio.sleep(0.05)
        new.close()
        for near, _ in pairs:
            near.close()
        await asyncio.sleep(0)

    loop.run_until_complete(asyncio.wait_for(main(), 5))
    assert events == [("old", b"old"), ("new", b"new"), ("old", "lost"), ("new", "lost")]


def test_reader_does_not_fire_while_not_readable(loop, pair):
    a, b = pair
    calls = []
    loop.add_reader(b, calls.append, "called")
    loop.call_later(0.02, loop.stop)
    loop.run_forever()
    assert calls == []
    assert loop.remove_reader(b) is True


def test_reader_is_level_triggered(loop, pair):
    a, b = pair
    calls = []

    def lazy_reader():
        # Never drains the socket: level-triggered means it is called again and again.
        calls.append(1)
        if len(calls) == 3:
            loop.remove_reader(b.fileno())
            loop.stop()

    a.send(b"x")
    loop.add_reader(b.fileno(), lazy_reader)
    safety = stop_after(loop)
    loop.run_forever()
    safety.cancel()
    assert len(calls) == 3
    assert b.recv(10) == b"x"


def test_reader_fires_again_for_new_data(loop, pair):
    a, b = pair
    got = []

    def on_readable():
        got.append(b.recv(100))
        if len(got) < 3:
            a.send(b"more")
        else:
            loop.stop()

    a.send(b"first")
    loop.add_reader(b.fileno(), on_readable)
    safety = stop_after(loop)
    loop.run_forever()
    safety.cancel()
    assert got == [b"first", b"more", b"more"]
    loop.remove_reader(b.fileno())


def test_remove_reader_return_value(loop, pair):
    a, b = pair
    assert loop.remove_reader(b.fileno()) is False
    loop.add_reader(b.fileno(), print)
    assert loop.remove_reader(b.fileno()) is True
    assert loop.remove_reader(b.fileno()) is False


def test_removed_reader_does_not_fire(loop, pair):
    a, b = pair
    calls = []
    loop.add_reader(b.fileno(), calls.append, 1)
    loop.remove_reader(b.fileno())
    a.send(b"data")
    loop.call_later(0.02, loop.stop)
    loop.run_forever()
    assert calls == []


def test_add_reader_with_a_socket_object(loop, pair):
    a, b = pair
    got = []

    def on_readable():
        got.append(b.recv(10))
        loop.stop()

    loop.add_reader(b, on_readable)
    a.send(b"obj")
    safety = stop_after(loop)
    loop.run_forever()
    safety.cancel()
    assert got == [b"obj"]
    # Registered through the object, removable through the number.
    assert loop.remove_reader(b.fileno()) is True


def test_writer_fires_when_writable(loop, pair):
    a, b = pair
    calls = []

    def on_writable(tag):
        calls.append(tag)
        loop.remove_writer(a.fileno())
        loop.stop()

    loop.add_writer(a.fileno(), on_writable, "w")
    safety = stop_after(loop)
    loop.run_forever()
    safety.cancel()
    assert calls == ["w"]
    assert loop.remove_writer(a.fileno()) is False


def test_remove_writer_return_value(loop, pair):
    a, b = pair
    assert loop.remove_writer(a) is False
    loop.add_writer(a, print)
    assert loop.remove_writer(a) is True
    assert loop.remove_writer(a) is False


def test_reader_and_writer_on_the_same_fd_are_independent(loop, pair):
    a, b = pair
    events = []

    def on_writable():
        events.append("write")
        loop.remove_writer(b.fileno())
        a.send(b"ping")

    def on_readable():
        events.append(("read", b.recv(10)))
        loop.stop()

    loop.add_reader(b.fileno(), on_readable)
    loop.add_writer(b.fileno(), on_writable)
    safety = stop_after(loop)
    loop.run_forever()
    safety.cancel()
    assert events == ["write", ("read", b"ping")]
    assert loop.remove_writer(b.fileno()) is False
    assert loop.remove_reader(b.fileno()) is True


def test_replacing_a_reader_calls_only_the_new_one(loop, pair):
    a, b = pair
    calls = []

    def new_reader():
        calls.append("new")
        b.recv(10)
        loop.stop()

    loop.add_reader(b.fileno(), calls.append, "old")
    loop.add_reader(b.fileno(), new_reader)
    a.send(b"x")
    safety = stop_after(loop)
    loop.run_forever()
    safety.cancel()
    assert calls == ["new"]
    assert loop.remove_reader(b.fileno()) is True


def test_replacing_a_reader_cancels_the_old_handle(loop, pair):
    # _add_reader (which returns the handle) is private, but both loops have it.
    a, b = pair
    old = loop._add_reader(b.fileno(), print)
    new = loop._add_reader(b.fileno(), print)
    assert old.cancelled()
    assert not new.cancelled()
    assert loop.remove_reader(b.fileno()) is True
    assert new.cancelled()


def test_add_reader_negative_fd(loop):
    with pytest.raises(ValueError, match="Invalid file descriptor: -1"):
        loop.add_reader(-1, print)
    with pytest.raises(ValueError, match="Invalid file descriptor: -1"):
        loop.add_writer(-1, print)


@pytest.mark.parametrize("fd", [2**31, 2**40, 10**30])
def test_descriptor_numbers_beyond_a_c_int(loop, fd):
    # No descriptor has such a number: watching it is an OverflowError (the epoll
    # selector's), removing its watcher finds nothing.
    for add in (loop.add_reader, loop.add_writer):
        with pytest.raises(OverflowError, match="too large to convert to C int"):
            add(fd, print)
    assert loop.remove_reader(fd) is False
    assert loop.remove_writer(fd) is False


def test_huge_negative_descriptor_number(loop):
    fd = -(10**30)
    with pytest.raises(ValueError, match=f"Invalid file descriptor: {fd}"):
        loop.add_reader(fd, print)
    with pytest.raises(ValueError, match=f"Invalid file descriptor: {fd}"):
        loop.remove_writer(fd)


def test_add_reader_object_without_fileno(loop):
    class NoFileno:
        def __repr__(self):
            return "<NoFileno>"

    with pytest.raises(ValueError, match="Invalid file object: <NoFileno>"):
        loop.add_reader(NoFileno(), print)
    with pytest.raises(ValueError, match="Invalid file object: <NoFileno>"):
        loop.remove_reader(NoFileno())
    with pytest.raises(ValueError, match="Invalid file object: <NoFileno>"):
        loop.add_writer(NoFileno(), print)


def test_add_reader_on_a_closed_loop(loop, pair):
    a, b = pair
    loop.close()
    with pytest.raises(RuntimeError, match="Event loop is closed"):
        loop.add_reader(b.fileno(), print)
    assert loop.remove_reader(b.fileno()) is False


def test_reader_exception_goes_to_the_handler(loop, pair):
    a, b = pair
    contexts = []
    loop.set_exception_handler(lambda lp, ctx: contexts.append(ctx))

    def bad_reader():
        loop.remove_reader(b.fileno())
        loop.call_soon(loop.stop)
        raise ValueError("reader")

    loop.add_reader(b.fileno(), bad_reader)
    a.send(b"x")
    safety = stop_after(loop)
    loop.run_forever()
    safety.cancel()
    assert len(contexts) == 1
    assert isinstance(contexts[0]["exception"], ValueError)


def test_closed_and_removed_fd_does_not_break_the_loop(loop):
    a, b = socket.socketpair()
    fd = b.fileno()
    loop.add_reader(fd, print)
    b.close()  # closed behind the loop's back...
    loop.remove_reader(fd)  # ...then removed: must not raise
    seen = []
    loop.call_soon(seen.append, "still running")
    loop.call_later(0.01, loop.stop)
    loop.run_forever()
    assert seen == ["still running"]
    a.close()


def test_reader_on_a_reused_fd_number_after_close_and_remove(loop):
    # The descriptor number of a closed (and removed) reader is reused by a new socket:
    # a reader on the new socket must work.
    a, b = socket.socketpair()
    fd = b.fileno()
    loop.add_reader(fd, print)
    b.close()
    loop.remove_reader(fd)
    a.close()

    c, d = socket.socketpair()
    try:
        if d.fileno() != fd:
            os.dup2(d.fileno(), fd)  # fd is free again: put the new socket there
            reader_fd = fd
        else:
            reader_fd = d.fileno()
        got = []

        def on_readable():
            got.append(os.read(reader_fd, 10))
            loop.stop()

        loop.add_reader(reader_fd, on_readable)
        c.send(b"reused")
        safety = stop_after(loop, 1.0)
        loop.run_forever()
        safety.cancel()
        assert got == [b"reused"]
        assert loop.remove_reader(reader_fd) is True
    finally:
        if reader_fd != d.fileno():
            os.close(reader_fd)
        c.close()
        d.close()


def test_fd_closed_while_watched_does_not_break_the_loop(loop):
    a, b = socket.socketpair()
    loop.add_reader(b.fileno(), print)
    fd = b.fileno()
    seen = []

    def close_it():
        b.close()
        loop.call_soon(seen.append, "after close")

    loop.call_soon(close_it)
    loop.call_later(0.02, loop.stop)
    loop.run_forever()
    assert seen == ["after close"]
    loop.remove_reader(fd)
    a.close()


def test_add_reader_on_a_regular_file_is_refused(loop, tmp_path):
    # epoll cannot watch regular files: the error comes out of add_reader and leaves no
    # half-registered reader behind.
    path = tmp_path / "plain.txt"
    path.write_bytes(b"data")
    with open(path, "rb") as f:
        with pytest.raises(PermissionError) as info:
            loop.add_reader(f.fileno(), print)
        assert info.value.errno == errno.EPERM
        assert loop.remove_reader(f.fileno()) is False
    seen = []
    loop.call_soon(seen.append, "fine")
    loop.call_later(0.01, loop.stop)
    loop.run_forever()
    assert seen == ["fine"]


def test_add_reader_on_a_closed_descriptor_number(loop):
    a, b = socket.socketpair()
    fd = b.fileno()
    b.close()
    a.close()
    with pytest.raises(OSError) as info:
        loop.add_reader(fd, print)
    assert info.value.errno == errno.EBADF
    assert loop.remove_reader(fd) is False


def test_remove_reader_negative_fd(loop):
    with pytest.raises(ValueError, match="Invalid file descriptor: -1"):
        loop.remove_reader(-1)


@pytest.mark.parametrize("side", ["reader", "writer"])
def test_a_socket_closed_while_watched_is_removed_through_the_object(loop, side):
    # A socket closed while watched reports fileno() -1; the watcher registered with
    # that object is still found and removed by it (anyio closes a socket, then its
    # future's done-callback removes the watcher).
    a, b = socket.socketpair()
    add = getattr(loop, f"add_{side}")
    remove = getattr(loop, f"remove_{side}")
    add(b, print)
    b.close()
    assert b.fileno() == -1
    assert remove(b) is True
    # Gone now, so the object is looked up as any other: its descriptor is invalid.
    with pytest.raises(ValueError, match="Invalid file descriptor: -1"):
        remove(b)
    a.close()


def test_a_closed_socket_never_watched_is_still_refused(loop, pair):
    a, b = pair
    loop.add_reader(a, print)
    c, d = socket.socketpair()
    d.close()
    c.close()
    with pytest.raises(ValueError, match="Invalid file descriptor: -1"):
        loop.remove_reader(d)
    # A watcher registered by number is not found through an object.
    loop.add_reader(b.fileno(), print)
    fd = b.fileno()
    b.close()
    with pytest.raises(ValueError, match="Invalid file descriptor: -1"):
        loop.remove_reader(b)
    assert loop.remove_reader(fd) is True
    assert loop.remove_reader(a) is True
