"""Run by test_subprocess_spawn.py in its own process (with ``AIOXIDE_WATCHDOG`` set):
a parent holding ``--mib`` of touched memory spawns ``--children`` processes, half of
them with a ``preexec_fn`` (which forces a real fork), while the loop serves a socket
ping-pong. Prints one JSON line: round trips, children's exit codes, the watchdog's
stall sites."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import socket

import aioxide

PAGE = 4096


def _noop() -> None:
    pass


class Stalls(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.sites: list[list] = []

    def emit(self, record: logging.LogRecord) -> None:
        stack = getattr(record, "aioxide_stack", None)
        if stack is not None:
            frames = [[f.filename, f.lineno, f.name] for f in stack]
            self.sites.append({"blocked": record.aioxide_blocked, "stack": frames})


async def echo(sock: socket.socket) -> None:
    loop = asyncio.get_running_loop()
    while data := await loop.sock_recv(sock, 4):
        await loop.sock_sendall(sock, data)


async def pingpong(sock: socket.socket, done: asyncio.Event) -> int:
    """Round trips through the echo task: each one waits for the loop to serve it."""
    loop = asyncio.get_running_loop()
    trips = 0
    while not done.is_set():
        await loop.sock_sendall(sock, b"ping")
        assert await loop.sock_recv(sock, 4) == b"ping"
        trips += 1
    return trips


async def main(children: int) -> dict:
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    done = asyncio.Event()
    server = asyncio.ensure_future(echo(b))
    client = asyncio.ensure_future(pingpong(a, done))
    await asyncio.sleep(0.05)

    async def one(i: int) -> int:
        extra = {"preexec_fn": _noop} if i % 2 else {}
        proc = await asyncio.create_subprocess_exec("/bin/true", **extra)
        return await proc.wait()

    codes = await asyncio.gather(*[one(i) for i in range(children)])
    done.set()
    trips = await client
    a.shutdown(socket.SHUT_WR)
    await server
    a.close()
    b.close()
    return {"codes": codes, "trips": trips}


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=int, default=2048)
    parser.add_argument("--children", type=int, default=200)
    opts = parser.parse_args()
    ballast = bytearray(opts.mib << 20)
    ballast[::PAGE] = b"\1" * (len(ballast) // PAGE)  # touch every page
    stalls = Stalls()
    logging.getLogger("aioxide.debug").addHandler(stalls)
    result = aioxide.run(main(opts.children))
    result["stalls"] = stalls.sites
    print(json.dumps(result))
