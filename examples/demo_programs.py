"""The demo's asyncio programs. Each is an ``async def`` returning its transcript.

Orders come from distinct sleeps at least 10 ms apart, started in the same loop
iteration, so they follow the timers' deadlines on any loop; nothing timing-dependent
(durations, tick counts) ever enters a transcript.
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import socket
import threading
import time

Log = list[str]


async def _step(log: Log, name: str, delay: float) -> str:
    await asyncio.sleep(delay)
    log.append(f"{name} finished")
    return name.upper()


async def _fail(log: Log, name: str, delay: float) -> None:
    await asyncio.sleep(delay)
    log.append(f"{name} raising ValueError")
    raise ValueError(name)


async def awaited_in_order() -> Log:
    log: Log = []
    for name, delay in [("a", 0.03), ("b", 0.01), ("c", 0.02)]:
        log.append(f"awaited {name} -> {await _step(log, name, delay)}")
    return log


async def awaited_out_of_order() -> Log:
    log: Log = []
    tasks = {n: asyncio.create_task(_step(log, n, d)) for n, d in [("a", 0.03), ("b", 0.01)]}
    tasks["c"] = asyncio.create_task(_step(log, "c", 0.02))
    for name in ["c", "a", "b"]:  # b is long done by the time it is awaited
        already = tasks[name].done()
        log.append(f"awaited {name} -> {await tasks[name]} (already done: {already})")
    return log


async def ensure_future_early() -> Log:
    log: Log = []

    async def background() -> int:
        log.append("background: started")
        await asyncio.sleep(0.01)
        log.append("background: finished")
        return 42

    fut = asyncio.ensure_future(background())
    log.append(f"main: task scheduled, started yet? {'background: started' in log}")
    log.append(f"main: ensure_future(task) is task: {asyncio.ensure_future(fut) is fut}")
    await asyncio.sleep(0)  # the task's first step was queued before main's wake-up
    log.append("main: doing other work")
    await asyncio.sleep(0.03)
    log.append(f"main: done before await? {fut.done()}")
    log.append(f"main: awaited -> {await fut}")
    return log


async def gather_results() -> Log:
    log: Log = []
    results = await asyncio.gather(
        _step(log, "slow", 0.03), _step(log, "fast", 0.01), _step(log, "mid", 0.02)
    )
    log.append(f"gather -> {results} (argument order)")
    mixed = await asyncio.gather(
        _step(log, "ok", 0.01), _fail(log, "bad", 0.02), return_exceptions=True
    )
    log.append(f"return_exceptions=True -> {mixed!r}")
    try:
        await asyncio.gather(_fail(log, "first", 0.01), _step(log, "late", 0.02))
    except ValueError as exc:
        log.append(f"gather raised ValueError({exc})")
    await asyncio.sleep(0.03)  # the sibling keeps running after gather raised
    return log


async def wait_modes() -> Log:
    log: Log = []
    delays = {"a": 0.01, "b": 0.02, "c": 0.06}
    tasks = [asyncio.create_task(_step(log, n, d), name=n) for n, d in delays.items()]
    done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    log.append(f"FIRST_COMPLETED: done={_names(done)} pending={_names(pending)}")
    done, pending = await asyncio.wait(pending, timeout=0.03)
    log.append(f"timeout=0.03: done={_names(done)} pending={_names(pending)}")
    for task in pending:
        task.cancel()
    await asyncio.wait(pending)
    log.append(f"after cancel: cancelled={[t.cancelled() for t in tasks]}")

    tasks = [asyncio.create_task(_step(log, n, d), name=n) for n, d in delays.items()]
    done, pending = await asyncio.wait(tasks, return_when=asyncio.ALL_COMPLETED)
    log.append(f"ALL_COMPLETED: done={_names(done)} pending={_names(pending)}")
    log.append(f"results in task order: {[t.result() for t in tasks]}")
    return log


def _names(tasks) -> list[str]:
    return sorted(t.get_name() for t in tasks)


async def as_completed_order() -> Log:
    log: Log = []
    coros = [_step(log, n, d) for n, d in [("x", 0.03), ("y", 0.01), ("z", 0.02)]]
    for i, next_done in enumerate(asyncio.as_completed(coros), 1):
        log.append(f"#{i} to complete -> {await next_done}")
    return log


def _blocking_digest(data: bytes) -> tuple[str, bool]:
    time.sleep(0.05)
    digest = hashlib.pbkdf2_hmac("sha256", data, b"aioxide-demo", 20_000).hex()[:16]
    return digest, threading.current_thread() is threading.main_thread()


def _blocking_fail() -> None:
    raise KeyError("raised in a worker thread")


async def executor_calls() -> Log:
    log: Log = []
    loop = asyncio.get_running_loop()
    fut = loop.run_in_executor(None, _blocking_digest, b"hello")
    await _step(log, "coroutine sleeping 0.01 s while the blocking call runs", 0.01)
    digest, on_main = await fut
    log.append(f"run_in_executor -> pbkdf2 {digest}, ran on the loop thread: {on_main}")
    log.append(f"to_thread -> {await asyncio.to_thread(sum, range(1000))}")
    try:
        await loop.run_in_executor(None, _blocking_fail)
    except KeyError as exc:
        log.append(f"exception crossed back to the coroutine: KeyError({exc})")
    return log


async def timeouts_and_taskgroups() -> Log:
    log: Log = []
    try:
        async with asyncio.timeout(0.02):
            await _step(log, "sleep(1) under timeout(0.02)", 1)
    except TimeoutError:
        log.append("asyncio.timeout: TimeoutError, the inner sleep was cancelled")
    log.append(f"wait_for in time -> {await asyncio.wait_for(_step(log, 'quick', 0.01), 1)}")

    async with asyncio.TaskGroup() as tg:
        t1 = tg.create_task(_step(log, "tg-slow", 0.02))
        t2 = tg.create_task(_step(log, "tg-fast", 0.01))
    log.append(f"TaskGroup ok -> {[t1.result(), t2.result()]}")

    async def sibling() -> None:
        try:
            await asyncio.sleep(1)
        except asyncio.CancelledError:
            log.append("sibling cancelled by the TaskGroup")
            raise

    try:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(sibling())
            tg.create_task(_fail(log, "tg-child", 0.01))
    except* ValueError as group:
        log.append(f"except* ValueError: {[str(e) for e in group.exceptions]}")
    return log


async def callbacks_and_context() -> Log:
    log: Log = []
    loop = asyncio.get_running_loop()
    request = contextvars.ContextVar("request", default="none")
    request.set("main")
    loop.call_later(0.02, log.append, "call_later 0.02")
    loop.call_at(loop.time() + 0.01, log.append, "call_at +0.01")
    loop.call_later(0.015, log.append, "cancelled timer (never shown)").cancel()
    loop.call_soon(log.append, "call_soon 1")
    loop.call_soon(lambda: log.append(f"call_soon 2 sees request={request.get()}"))
    other = contextvars.Context()
    loop.call_soon(
        lambda: log.append(f"call_soon in a fresh context: {request.get()}"), context=other
    )

    async def child() -> None:
        log.append(f"task sees request={request.get()}")
        request.set("child")  # stays in the task's copy of the context

    await asyncio.create_task(child())
    done = loop.create_future()
    loop.call_later(0.03, done.set_result, "future resolved by call_later 0.03")
    log.append(await done)
    log.append(f"main still sees request={request.get()}")
    return log


async def queue_and_sockets() -> Log:
    log: Log = []
    queue: asyncio.Queue[int | None] = asyncio.Queue(maxsize=2)

    async def producer() -> None:
        for i in range(4):
            await queue.put(i)
            log.append(f"put {i}")
        await queue.put(None)

    async def consumer() -> None:
        while (item := await queue.get()) is not None:
            log.append(f"got {item}")

    await asyncio.gather(producer(), consumer())

    loop = asyncio.get_running_loop()
    left, right = socket.socketpair()
    with left, right:
        left.setblocking(False)
        right.setblocking(False)

        async def echo() -> None:
            while data := await loop.sock_recv(right, 1024):
                await loop.sock_sendall(right, data.upper())

        server = asyncio.create_task(echo())
        for word in [b"ping", b"seed", b"loop"]:
            await loop.sock_sendall(left, word)
            reply = await loop.sock_recv(left, 1024)
            log.append(f"socket echo {word.decode()} -> {reply.decode()}")
        left.shutdown(socket.SHUT_WR)
        await server
        log.append("echo side saw EOF and returned")
    return log


async def servers_and_subprocesses() -> Log:
    log: Log = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while line := await reader.readline():
            writer.write(line.upper())
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    async with server:
        host, port = server.sockets[0].getsockname()[:2]
        reader, writer = await asyncio.open_connection(host, port)
        for word in ["transports", "are", "native"]:
            writer.write(f"{word}\n".encode())
            reply = await reader.readline()
            log.append(f"TCP echo {word} -> {reply.decode().strip()}")
        writer.write_eof()
        log.append(f"after EOF the server closes: {await reader.read()!r}")
        writer.close()
        await writer.wait_closed()
    log.append(f"server serving after close: {server.is_serving()}")

    proc = await asyncio.create_subprocess_exec(
        "sh", "-c", "tr a-z A-Z; exit 3",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    out, _ = await proc.communicate(b"through a subprocess")
    log.append(f"subprocess said {out.decode()!r} and exited {proc.returncode}")
    return log


async def files() -> Log:
    """aioxide.fs works on any loop: the same transcript on stdlib asyncio and aioxide."""
    import tempfile

    import aioxide.fs as afs

    log: Log = []
    with tempfile.TemporaryDirectory() as tmp:
        path = f"{tmp}/notes.txt"
        async with afs.open(path, "w", encoding="utf-8", newline="\r\n") as f:
            await f.write("first line\nsecond, with ünïcode\nthird\n")
        log.append(f"on disk: {await afs.read_bytes(path)!r}")
        async with afs.open(path, encoding="utf-8") as f:
            async for line in f:
                log.append(f"async for: {line!r}")
        async with afs.AIOFile(path, "r") as afp:  # aiofile's API
            async for line in afs.LineReader(afp, line_sep="\r\n"):
                log.append(f"LineReader: {line!r}")
        log.append(f"listdir: {await afs.listdir(tmp)}, size {(await afs.stat(path)).st_size}")
    return log


async def http_client() -> Log:
    """The aiohttp tutorial on aioxide.http (examples/http_tutorial.py), quietly."""
    import contextlib
    import io

    import http_tutorial

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        await http_tutorial.main(count=8)
    pages = out.getvalue().splitlines()
    # as_completed yields in completion order, which no loop promises: sort the lines.
    return [f"{len(pages)} pages printed"] + sorted(p.split(":")[0] for p in pages)


PROGRAMS = [
    ("coroutines awaited in order", awaited_in_order),
    ("tasks awaited out of order", awaited_out_of_order),
    ("ensure_future started early, awaited later", ensure_future_early),
    ("asyncio.gather", gather_results),
    ("asyncio.wait: FIRST_COMPLETED, timeout, ALL_COMPLETED", wait_modes),
    ("asyncio.as_completed", as_completed_order),
    ("run_in_executor and to_thread", executor_calls),
    ("asyncio.timeout, wait_for and TaskGroup", timeouts_and_taskgroups),
    ("call_soon/call_later/call_at and contextvars", callbacks_and_context),
    ("asyncio.Queue and sock_* echo", queue_and_sockets),
    ("start_server/open_connection and a subprocess", servers_and_subprocesses),
    ("aioxide.fs: open, async for, aiofile's LineReader", files),
    ("aioxide.http: one session, asyncio.as_completed", http_client),
]
