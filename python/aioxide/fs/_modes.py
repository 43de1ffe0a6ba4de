"""Mode strings and arguments checked as built-in ``open`` checks them."""

from __future__ import annotations

import io
import locale
import os
import warnings
from typing import NamedTuple

from .. import _versions


class FileMode(NamedTuple):
    """What a mode string means (aiofile's ``AIOFile.mode``)."""

    readable: bool
    writable: bool
    plus: bool
    appending: bool
    created: bool
    flags: int
    binary: bool


def parse_mode(mode: str) -> FileMode:
    """Validate ``mode`` exactly as built-in ``open`` does and return its meaning."""
    if not isinstance(mode, str):
        raise TypeError(f"open() argument 'mode' must be str, not {type(mode).__name__}")
    chars = set(mode)
    if chars - set("axrwb+t") or len(mode) > len(chars):
        raise ValueError(f"invalid mode: {mode!r}")
    creating, reading, writing, appending = ("x" in chars, "r" in chars, "w" in chars, "a" in chars)
    plus, text, binary = "+" in chars, "t" in chars, "b" in chars
    if text and binary:
        raise ValueError("can't have text and binary mode at once")
    if creating + reading + writing + appending > 1:
        raise ValueError("must have exactly one of create/read/write/append mode")
    if not (creating or reading or writing or appending):
        raise ValueError(
            "Must have exactly one of create/read/write/append mode and at most one plus"
        )
    if creating:
        flags = os.O_CREAT | os.O_EXCL
    elif writing:
        flags = os.O_CREAT | os.O_TRUNC
    elif appending:
        flags = os.O_CREAT | os.O_APPEND
    else:
        flags = 0
    readable = reading or plus
    writable = not reading or plus
    flags |= os.O_RDWR if plus else (os.O_RDONLY if reading else os.O_WRONLY)
    return FileMode(readable, writable, plus, appending, creating, flags | os.O_CLOEXEC, binary)


def raw_mode_name(info: FileMode) -> str:
    """The ``mode`` a binary built-in file reports (``rb``, ``wb``, ``rb+``, ``ab+``...)."""
    if info.created:
        name = "xb"
    elif info.appending:
        name = "ab"
    elif info.readable and not (_versions.TRUNCATING_PLUS_MODE_IS_W and info.flags & os.O_TRUNC):
        return "rb+" if info.writable else "rb"
    else:
        name = "wb"
    return name + "+" if info.readable else name


def check_text_arguments(info: FileMode, buffering: int, encoding, errors, newline) -> None:
    if not isinstance(buffering, int):
        raise TypeError(f"'{type(buffering).__name__}' object cannot be interpreted as an integer")
    if not -(2**31) <= buffering < 2**31:
        raise OverflowError("Python int too large to convert to C int")
    if newline is not None and not isinstance(newline, str):
        raise TypeError(
            f"open() argument 'newline' must be str or None, not {type(newline).__name__}"
        )
    if encoding is not None and not isinstance(encoding, str):
        raise TypeError(
            f"open() argument 'encoding' must be str or None, not {type(encoding).__name__}"
        )
    if errors is not None and not isinstance(errors, str):
        raise TypeError(
            f"open() argument 'errors' must be str or None, not {type(errors).__name__}"
        )
    if info.binary:
        if encoding is not None:
            raise ValueError("binary mode doesn't take an encoding argument")
        if errors is not None:
            raise ValueError("binary mode doesn't take an errors argument")
        if newline is not None:
            raise ValueError("binary mode doesn't take a newline argument")
        if buffering == 1:
            warnings.warn(
                "line buffering (buffering=1) isn't supported in binary mode, the default "
                "buffer size will be used",
                RuntimeWarning,
                stacklevel=4,
            )
    else:
        if buffering == 0:
            raise ValueError("can't have unbuffered text I/O")
        if newline not in (None, "", "\n", "\r", "\r\n"):
            raise ValueError(f"illegal newline value: {newline}")


def text_encoding(encoding: str | None) -> str:
    """The encoding a text file opened with ``encoding`` uses (built-in rules)."""
    encoding = io.text_encoding(encoding, 4)
    if encoding == "locale":
        encoding = locale.getpreferredencoding(False)
    return encoding
