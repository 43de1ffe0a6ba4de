"""Smoke program for an installed aioxide wheel (scripts/wheels runs it under -W error,
outside the repository): timers, a TCP echo, a subprocess and aioxide.fs on the loop."""

import asyncio
import os
import sys
import tempfile

import aioxide


async def main() -> str:
    loop = asyncio.get_running_loop()
    assert isinstance(loop, aioxide.Loop), loop
    fired = loop.create_future()
    loop.call_later(0.01, fired.set_result, "timer")

    async def echo(reader, writer):
        writer.write(await reader.read(100))
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    async with server:
        reader, writer = await asyncio.open_connection(*server.sockets[0].getsockname())
        writer.write(b"ping")
        assert await reader.read(100) == b"ping"
        writer.close()
        await writer.wait_closed()

    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "print('child')", stdout=asyncio.subprocess.PIPE)
    out, _ = await proc.communicate()
    assert out.strip() == b"child" and proc.returncode == 0

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "f.txt")
        await aioxide.fs.write_text(path, "line 1\nline 2\n")
        async with aioxide.fs.open(path) as f:
            lines = [line async for line in f]
        assert lines == ["line 1\n", "line 2\n"], lines

    return await fired


assert aioxide.run(main()) == "timer"
print(f"smoke ok: aioxide {aioxide.__version__} on Python {sys.version.split()[0]}")
