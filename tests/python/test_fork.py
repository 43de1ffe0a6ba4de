"""A forked child may close the loop it inherited without disturbing the parent's."""

from __future__ import annotations

import asyncio
import os

import aioxide
import pytest

# Forking a process that has threads (the loop's helpers) is what these tests are about;
# 3.12+ warns about it.
pytestmark = pytest.mark.filterwarnings(
    "ignore:This process .* is multi-threaded:DeprecationWarning")


@pytest.mark.timeout(30)
def test_child_closing_the_inherited_loop_leaves_the_parent_loop_working(pair):
    loop = aioxide.new_event_loop()
    a, b = pair
    got = []
    try:
        loop.add_reader(b, lambda: got.append(b.recv(100)))
        pid = os.fork()
        if pid == 0:  # the child: close what it inherited, start a loop of its own
            status = 0
            try:
                loop.close()
                child = aioxide.new_event_loop()
                if child.run_until_complete(asyncio.sleep(0, "ok")) != "ok":
                    status = 1
                child.close()
            except BaseException:
                status = 2
            os._exit(status)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        # The parent's registration must have survived the child's close.
        a.send(b"ping")

        async def wait_for_data():
            while not got:
                await asyncio.sleep(0.001)

        loop.run_until_complete(asyncio.wait_for(wait_for_data(), 5))
        assert got == [b"ping"]
    finally:
        loop.close()


@pytest.mark.timeout(30)
def test_child_cannot_wait_on_the_inherited_poller(pair):
    loop = aioxide.new_event_loop()
    a, b = pair
    try:
        loop.add_reader(b, lambda: b.recv(100))
        pid = os.fork()
        if pid == 0:
            status = 3
            try:
                loop.run_until_complete(asyncio.sleep(0.01))
            except OSError as exc:
                status = 0 if "inherited across fork" in str(exc) else 4
            except BaseException:
                status = 5
            os._exit(status)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    finally:
        loop.close()
