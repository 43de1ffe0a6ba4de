"""Writing one request onto a connection: the head, then the body (whole, streamed in
chunked coding, compressed, or after ``100 Continue``), then the wait for the answer's
head."""

from __future__ import annotations

import zlib

from multidict import CIMultiDict

from .._aioxide import http_chunk
from .._aioxide import http_request_head as _head_bytes
from ._body import Body


async def send_request(conn, method, target, wire, framed, body, compress, deadline,
                       decoding, traced=None):
    """Writes one request on ``conn`` and returns its response head."""
    protocol = conn.protocol
    head_fut = protocol.expect(method == "HEAD", *decoding)
    streamed = not (body is None or (body.stream is None and not framed))
    if body is not None and any(k.lower() == "expect" for k, _ in wire):
        # Expect: 100-continue: the head alone, then the body once the server says
        # 100 (or answers at once: the body still follows, keeping the framing).
        protocol.send(_head_bytes(method, target, wire))
        await deadline.wait(protocol.wait_continue(), conn.close)
        if not streamed:
            protocol.send(body.data)
    else:
        protocol.send(_head_bytes(method, target, wire,
                                  None if streamed or body is None else body.data))
    if traced:
        url, traces = traced
        await traces.send("request_headers_sent", method, url, CIMultiDict(wire))
        if body is not None and not streamed:
            await traces.send("request_chunk_sent", method, url, body.data)
    if streamed:
        await _send_stream(protocol, body, compress, framed, method, traced)
    return await deadline.wait(head_fut, conn.close)

async def _send_stream(protocol, body: Body, compress, framed: bool, method: str,
                       traced) -> None:
    stream = body.stream if body.stream is not None else _once(body.data)
    packer = _compressor(compress)
    async for chunk in stream:
        if packer is not None:
            chunk = packer.compress(chunk)
        if chunk:
            protocol.send(http_chunk(chunk) if framed else chunk)
            if traced:
                await traced[1].send("request_chunk_sent", method, traced[0], chunk)
            waiter = protocol.drain()
            if waiter is not None:
                await waiter
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
