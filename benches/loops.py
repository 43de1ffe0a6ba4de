"""The event loops under comparison, by name.

``aioxide`` and ``uvloop`` are imported only when asked for, so a missing uvloop
costs one skipped column, not a crash.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import sys

LOOP_NAMES = ("aioxide", "uvloop", "asyncio")

# name -> module providing new_event_loop(); stdlib asyncio gives its selector loop on Linux.
_MODULES = {"aioxide": "aioxide", "uvloop": "uvloop", "asyncio": "asyncio"}


def new_loop(name: str) -> asyncio.AbstractEventLoop:
    """A fresh loop of kind ``name`` (one of LOOP_NAMES)."""
    return importlib.import_module(_MODULES[name]).new_event_loop()


def unavailable_reason(name: str) -> str | None:
    """None when loop ``name`` can be imported here, else why not."""
    try:
        importlib.import_module(_MODULES[name])
    except ImportError as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def version_of(name: str) -> str:
    if name == "asyncio":
        return "stdlib"
    module = importlib.import_module(_MODULES[name])
    return str(getattr(module, "__version__", "?"))


def names_arg(text: str, known) -> list[str]:
    """An argparse type: a comma-separated list of names, each one of ``known``."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in known]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown: {', '.join(unknown)}")
    return names


def usable_loops(requested: list[str]) -> tuple[list[str], dict[str, str]]:
    """The requested loops that import here, and why each other one was skipped (also
    said on stderr)."""
    loops, skipped = [], {}
    for loop in requested:
        reason = unavailable_reason(loop)
        if reason is None:
            loops.append(loop)
        else:
            skipped[loop] = reason
            print(f"skipping {loop}: {reason}", file=sys.stderr)
    return loops, skipped
