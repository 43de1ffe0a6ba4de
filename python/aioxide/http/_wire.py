"""Writing one request onto a connection: the head, then the body (whole, streamed in
chunked coding, compressed, or after ``100 Continue``), and the wait for the answer's
head, which a streamed body does not hold up."""

from __future__ import annotations

import asyncio
import zlib

from multidict import CIMultiDict

from .._aioxide import http_chunk
from .._aioxide import http_request_head as _head_bytes
from ._body import Body
from ._exceptions import ClientConnectionError
from ._helpers import retrieve

# A body up to this size goes out in one buffer with the head (one write); a bigger one
# is written after the head rather than copied behind it.
_JOIN_LIMIT = 64 * 1024


async def send_request(conn, method, target, wire, framed, body, compress, deadline,
                       decoding, traced=None):
    """Writes one request on ``conn``; returns its response head and the task still
    sending a streamed body (None once the body is out). (A request with neither body
    nor tracing is written by ``ClientSession._roundtrip`` itself.)"""
    protocol = conn.protocol
    head_fut = protocol.expect(method == "HEAD", *decoding)
    streamed = not (body is None or (body.stream is None and not framed))
    # A body the caller gave a Content-Length goes out cut to it, as with aiohttp: bytes
    # past it would be read as the next request on a kept-alive connection.
    limit = None if framed or compress or body is None else _declared_length(wire)
    data = None if streamed or body is None else body.data[:limit]
    if body is not None and any(k.lower() == "expect" for k, _ in wire):
        # Expect: 100-continue: the head alone, then the body once the server says
        # 100 (or answers at once: the body still follows, keeping the framing).
        protocol.send(_head_bytes(method, target, wire))
        await deadline.wait(protocol.wait_continue(), conn.close)
        if not streamed:
            protocol.send(data)
    elif data is not None and len(data) > _JOIN_LIMIT:
        protocol.send(_head_bytes(method, target, wire))  # a big body is not copied in
        protocol.send(data)
    else:
        protocol.send(_head_bytes(method, target, wire, data))
    if traced:
        url, traces = traced
        await traces.send("request_headers_sent", method, url, CIMultiDict(wire))
        if data is not None:
            await traces.send("request_chunk_sent", method, url, data)
    if not streamed:
        return await deadline.wait(head_fut, conn.close), None
    # The body goes out while the answer is awaited: a server may answer early (413,
    # 401), and then the body is not waited for. The response owns the task from then.
    writer = asyncio.ensure_future(
        _send_stream(conn, body, compress, framed, method, traced, limit))
    head_or_failure = _head_or_failure(head_fut, writer)
    try:
        if not writer.done():
            # sock_read counts from the end of the body, as in aiohttp.
            await deadline.wait(_either(head_or_failure, writer), conn.close, reading=False)
        head = await deadline.wait(head_or_failure, conn.close)
    except BaseException:
        writer.cancel()
        # Given up on: its failure, when the closed connection brings one, is not news.
        head_or_failure.add_done_callback(retrieve)
        raise
    return head, None if writer.done() else writer


def _either(a, b):
    """A future done (with None) once ``a`` or ``b`` is."""
    out = a.get_loop().create_future()

    def done(_) -> None:
        if not out.done():
            out.set_result(None)

    a.add_done_callback(done)
    b.add_done_callback(done)
    return out


def _head_or_failure(head_fut, writer):
    """A future for the head that also fails when sending the body fails first."""
    out = head_fut.get_loop().create_future()

    def from_head(fut) -> None:
        if not out.done():
            if fut.cancelled():
                out.cancel()
            elif fut.exception() is not None:
                out.set_exception(fut.exception())
            else:
                out.set_result(fut.result())

    def from_writer(task) -> None:
        if not out.done() and not task.cancelled() and task.exception() is not None:
            out.set_exception(task.exception())

    head_fut.add_done_callback(from_head)
    writer.add_done_callback(from_writer)
    return out


def _declared_length(wire) -> int | None:
    for name, value in wire:
        if name.lower() == "content-length":
            return int(value) if value.isdigit() else None
    return None

async def _send_stream(conn, body: Body, compress, framed: bool, method: str, traced,
                       limit: int | None) -> None:
    """Streams the body; a failure closes the connection and is raised as aiohttp's:
    the OSError, or ClientConnectionError for what the body's source raised."""
    try:
        await _stream(conn.protocol, body, compress, framed, method, traced, limit)
    except (OSError, ClientConnectionError, asyncio.CancelledError):
        conn.close()
        raise
    except Exception as exc:
        conn.close()
        raise ClientConnectionError(f"Failed to send the request body: {exc!r}") from exc


async def _stream(protocol, body: Body, compress, framed: bool, method: str, traced,
                  limit: int | None) -> None:
    stream = body.stream if body.stream is not None else _once(body.data)
    packer = _compressor(compress)
    async for chunk in stream:
        if packer is not None:
            chunk = packer.compress(chunk)
        if limit is not None:
            chunk, limit = chunk[:limit], limit - min(limit, len(chunk))
        if chunk:
            protocol.send(http_chunk(chunk) if framed else chunk)
            if traced:
                await traced[1].send("request_chunk_sent", method, traced[0], chunk)
            waiter = protocol.drain()
            if waiter is not None:
                await waiter
        if limit == 0:  # the caller's Content-Length is reached: the rest is not read
            close = getattr(stream, "aclose", None)
            if close is not None:
                await close()
            break
    if packer is not None:
        tail = packer.flush()
        if tail:
            protocol.send(http_chunk(tail) if framed else tail)
    if framed:
        protocol.send(b"0\r\n\r\n")


async def _once(data: bytes):
    yield data


def _compressor(compress):
    if not compress:
        return None
    if compress is True or compress == "deflate":
        return zlib.compressobj(wbits=zlib.MAX_WBITS)
    if compress == "gzip":
        return zlib.compressobj(wbits=16 + zlib.MAX_WBITS)
    raise ValueError(f"unknown compression {compress!r}: use 'deflate' or 'gzip'")
