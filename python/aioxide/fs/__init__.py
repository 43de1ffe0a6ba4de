"""aioxide.fs: async file I/O on a native engine (io_uring where the kernel allows it,
a Rust worker pool otherwise), on the aioxide loop or any other asyncio loop.

    async with aioxide.fs.open("data.txt", encoding="utf-8") as f:
        async for line in f:
            ...

``open`` takes built-in ``open``'s arguments and gives its results; reads are served from
a buffer filled by large reads. ``AIOFile``, ``Reader``, ``LineReader``, ``Writer`` and
``async_open`` are aiofile's API, so aiofile code runs by changing its import.
"""

from ._aiofile import (
    AIOFile,
    BinaryFileWrapper,
    LineReader,
    Reader,
    TextFileWrapper,
    Writer,
    async_open,
)
from ._engine import backend
from ._file import AsyncFile
from ._modes import FileMode
from ._open import open  # noqa: A004
from ._paths import (
    exists,
    listdir,
    makedirs,
    read_bytes,
    read_text,
    remove,
    rename,
    stat,
    write_bytes,
    write_text,
)
from ._text import AsyncTextFile

__all__ = [
    "AIOFile",
    "AsyncFile",
    "AsyncTextFile",
    "BinaryFileWrapper",
    "FileMode",
    "LineReader",
    "Reader",
    "TextFileWrapper",
    "Writer",
    "async_open",
    "backend",
    "exists",
    "listdir",
    "makedirs",
    "open",
    "read_bytes",
    "read_text",
    "remove",
    "rename",
    "stat",
    "write_bytes",
    "write_text",
]
