"""Integer arguments of file methods, read as the built-in ``io`` classes read them: the
same exception types and messages for a wrong type or a number out of range."""

from __future__ import annotations

import operator
import os
import sys

_OFF_MAX = 2**63 - 1
_INT_MAX = 2**31 - 1


def _ssize(n: int) -> int:
    if not -sys.maxsize - 1 <= n <= sys.maxsize:
        raise OverflowError("cannot fit 'int' into an index-sized integer")
    return n


def optional_size(value) -> int:
    """A size that may be ``None`` (meaning -1), as ``read(size)`` takes it."""
    if value is None:
        return -1
    try:
        n = operator.index(value)
    except TypeError:
        raise TypeError(
            f"argument should be integer or None, not '{type(value).__name__}'"
        ) from None
    return _ssize(n)


def size(value) -> int:
    """A size that must be an integer (``truncate``, ``pread``)."""
    return _ssize(operator.index(value))


def read_size(value) -> int:
    """``read(size)`` of a binary file: below -1 is refused."""
    n = optional_size(value)
    if n < -1:
        raise ValueError("read length must be non-negative or -1")
    return n


def offset(value) -> int:
    """A file offset (``seek``, ``pwrite``)."""
    n = operator.index(value)
    if not -_OFF_MAX - 1 <= n <= _OFF_MAX:
        raise ValueError("cannot fit 'int' into an offset-sized integer")
    return n


def whence(value) -> int:
    """``seek``'s whence as an int; its value is checked by the caller."""
    n = operator.index(value)
    if not -_INT_MAX - 1 <= n <= _INT_MAX:
        raise OverflowError("Python int too large to convert to C int")
    return n


def path_bytes(name) -> bytes:
    """``name`` (str or bytes, from ``os.fspath``) as the bytes the engine opens; a NUL
    inside is the ``ValueError`` the ``os`` functions raise."""
    raw = os.fsencode(name)
    if b"\0" in raw:
        raise ValueError("embedded null byte")
    return raw
