"""Request bodies: what each kind of ``data=`` becomes on the wire (aiohttp's rules), and
``FormData`` for url-encoded and multipart forms."""

from __future__ import annotations

import asyncio
import inspect
import io
import mimetypes
import os
import stat
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Mapping
from urllib.parse import urlencode

from multidict import MultiDictProxy

CHUNK = 2**16


class Body:
    """``data`` (all of it) or ``stream`` (an async iterator of bytes, of ``length``
    bytes when that is known)."""

    __slots__ = ("data", "stream", "content_type", "length", "rewind")

    def __init__(self, data: bytes | None = None, stream: AsyncIterator[bytes] | None = None,
                 content_type: str | None = None, length: int | None = None,
                 rewind=None) -> None:
        self.data = data
        self.stream = stream
        self.content_type = content_type
        self.length = len(data) if data is not None else length
        # For a stream that can be sent again (a seekable file): a fresh Body.
        self.rewind = rewind


def _is_form(data) -> bool:
    if isinstance(data, (Mapping, MultiDictProxy)):
        return True
    return isinstance(data, (list, tuple)) and all(
        isinstance(p, tuple) and len(p) == 2 for p in data)


def build(data) -> Body:
    """The body for ``data=``: bytes, str, a form (dict, pairs, ``FormData``), an async
    iterable of bytes, or a file object (blocking or an ``aioxide.fs`` file)."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        return Body(bytes(data), content_type="application/octet-stream")
    if isinstance(data, str):
        return Body(data.encode(), content_type="text/plain; charset=utf-8")
    if isinstance(data, FormData):
        return data._body()
    if _is_form(data):
        return FormData(data)._body()
    if isinstance(data, AsyncIterable):
        return Body(stream=_from_async_iterable(data), content_type="application/octet-stream")
    if isinstance(data, io.BytesIO):  # in memory: sized, read at once, no executor
        return Body(data.read(), content_type="application/octet-stream")
    if isinstance(data, io.StringIO):
        return Body(data.read().encode(), content_type="text/plain; charset=utf-8")
    if hasattr(data, "read"):
        return _file_body(data)
    raise TypeError(f"Unsupported body type: {type(data).__name__}")


def _file_body(f) -> Body:
    rewind = None
    if not inspect.iscoroutinefunction(f.read):
        try:
            if f.seekable():
                start = f.tell()
                rewind = lambda: (f.seek(start), _file_body(f))[1]  # noqa: E731
        except (AttributeError, OSError, ValueError):
            pass
    return Body(stream=_from_file(f), content_type=_file_type(f), length=_file_length(f),
                rewind=rewind)


def _file_type(f) -> str:
    """Guessed from the file's name, as aiohttp does; else by the kind of file."""
    name = getattr(f, "name", None)
    if isinstance(name, (str, os.PathLike)):
        guessed = mimetypes.guess_type(os.fspath(name))[0]
        if guessed:
            return guessed
    if isinstance(f, io.TextIOBase):
        return "text/plain; charset=utf-8"
    return "application/octet-stream"


def _file_length(f) -> int | None:
    """The bytes left in a regular binary file (so it goes out with a Content-Length)."""
    if isinstance(f, io.TextIOBase):
        return None  # characters, not bytes, and an encoding in between
    try:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            return None
        return st.st_size - f.tell()
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return None


async def _from_async_iterable(data) -> AsyncIterator[bytes]:
    async for chunk in data:
        if isinstance(chunk, str):
            chunk = chunk.encode()
        yield bytes(chunk)


async def _from_file(f) -> AsyncIterator[bytes]:
    """Reads ``f`` in pieces: an async file (``aioxide.fs``) directly, a blocking one on
    the default executor, so the loop never waits on the disk."""
    if inspect.iscoroutinefunction(f.read):
        while chunk := await f.read(CHUNK):
            yield chunk.encode() if isinstance(chunk, str) else chunk
        return
    loop = asyncio.get_running_loop()
    while chunk := await loop.run_in_executor(None, f.read, CHUNK):
        yield chunk.encode() if isinstance(chunk, str) else chunk


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\r", "%0D").replace(
        "\n", "%0A")


class FormData:
    """A form: url-encoded when every field is a plain value, multipart/form-data once a
    field is a file or has a filename or content type."""

    def __init__(self, fields=(), quote_fields: bool = True, charset: str | None = None, *,
                 default_to_multipart: bool = False) -> None:
        self._fields: list[tuple[str, object, str | None, str | None]] = []
        self._is_multipart = default_to_multipart
        self._quote_fields = quote_fields
        self._charset = charset
        if isinstance(fields, (Mapping, MultiDictProxy)):
            fields = list(fields.items())
        elif not isinstance(fields, (list, tuple)):
            fields = (fields,)
        self.add_fields(*fields)

    @property
    def is_multipart(self) -> bool:
        return self._is_multipart

    def add_field(self, name: str, value, *, content_type: str | None = None,
                  filename: str | None = None, content_transfer_encoding=None) -> None:
        if filename is not None and not isinstance(filename, str):
            raise TypeError(f"filename must be an instance of str. Got: {filename}")
        if content_type is not None and not isinstance(content_type, str):
            raise TypeError(f"content_type must be an instance of str. Got: {content_type}")
        if isinstance(value, io.IOBase):
            self._is_multipart = True
            if filename is None:
                filename = _guess_filename(value, name)
        if filename is not None or content_type is not None:
            self._is_multipart = True
        self._fields.append((name, value, content_type, filename))

    def add_fields(self, *fields) -> None:
        for field in fields:
            if isinstance(field, io.IOBase):
                self.add_field(_guess_filename(field, "unknown"), field)
            elif isinstance(field, MultiDictProxy) or hasattr(field, "items"):
                self.add_fields(*field.items())
            elif isinstance(field, (list, tuple)) and len(field) == 2:
                self.add_field(*field)
            else:
                raise TypeError(
                    "Only io.IOBase, multidict and (name, file) pairs allowed, use "
                    f".add_field() for passing more complex parameters, got {field!r}")

    def _body(self) -> Body:
        if not self._is_multipart:
            charset = self._charset or "utf-8"
            pairs = [(name, str(value) if not isinstance(value, (str, bytes)) else value)
                     for name, value, _, _ in self._fields]
            ctype = "application/x-www-form-urlencoded"
            if charset != "utf-8":
                ctype += f"; charset={charset}"
            return Body(urlencode(pairs, doseq=True, encoding=charset).encode(),
                        content_type=ctype)
        boundary = uuid.uuid4().hex
        ctype = f"multipart/form-data; boundary={boundary}"
        if any(isinstance(v, io.IOBase) or hasattr(v, "read") for _, v, _, _ in self._fields):
            return Body(stream=self._parts(boundary), content_type=ctype)
        return Body(b"".join(_sync_parts(self, boundary)), content_type=ctype)

    def _part_head(self, boundary: str, name: str, value, ctype, filename) -> bytes:
        disposition = f'form-data; name="{_quote(name) if self._quote_fields else name}"'
        if filename is not None:
            disposition += f'; filename="{_quote(filename)}"'
        if ctype is None and filename is not None:
            ctype = mimetypes.guess_type(filename)[0]
        if ctype is None:
            if isinstance(value, str):
                ctype = f"text/plain; charset={self._charset or 'utf-8'}"
            else:
                ctype = "application/octet-stream"
        return (f"--{boundary}\r\nContent-Type: {ctype}\r\n"
                f"Content-Disposition: {disposition}\r\n\r\n").encode()

    async def _parts(self, boundary: str) -> AsyncIterator[bytes]:
        for name, value, ctype, filename in self._fields:
            yield self._part_head(boundary, name, value, ctype, filename)
            if hasattr(value, "read"):
                async for chunk in _from_file(value):
                    yield chunk
            else:
                yield _value_bytes(value, _charset_of(ctype) or self._charset)
            yield b"\r\n"
        yield f"--{boundary}--\r\n".encode()


def _sync_parts(form: FormData, boundary: str):
    for name, value, ctype, filename in form._fields:
        yield form._part_head(boundary, name, value, ctype, filename)
        yield _value_bytes(value, _charset_of(ctype) or form._charset)
        yield b"\r\n"
    yield f"--{boundary}--\r\n".encode()


def _charset_of(ctype: str | None) -> str | None:
    for param in (ctype or "").split(";")[1:]:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            return value.strip().strip('"') or None
    return None


def _value_bytes(value, charset: str | None) -> bytes:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    return str(value).encode(charset or "utf-8")


def _guess_filename(f, default: str) -> str:
    name = getattr(f, "name", None)
    if isinstance(name, str) and name and name[0] != "<" and name[-1] != ">":
        return os.path.basename(name)
    return default
