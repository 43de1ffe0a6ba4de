"""The event loops under comparison, by name.

``aioxide`` and ``uvloop`` are imported only when asked for, so a missing uvloop
costs one skipped column, not a crash.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import sys

LOOP_NAMES = ("aioxide", "uvloop", "rloop", "rsloop", "rsloop-nopatch", "asyncio")

# name -> module providing new_event_loop(); stdlib asyncio gives its selector loop on Linux.
# rsloop replaces asyncio.open_connection/start_server with its own when imported;
# "rsloop-nopatch" is rsloop with asyncio's own stream functions put back.
_MODULES = {"aioxide": "aioxide", "uvloop": "uvloop", "rloop": "rloop", "rsloop": "rsloop",
            "rsloop-nopatch": "rsloop", "asyncio": "asyncio"}
_STREAM_FUNCTIONS = ("open_connection", "start_server", "open_unix_connection",
                     "start_unix_server")


def new_loop(name: str) -> asyncio.AbstractEventLoop:
    """A fresh loop of kind ``name`` (one of LOOP_NAMES)."""
    if name != "rsloop-nopatch":
        return importlib.import_module(_MODULES[name]).new_event_loop()
    saved = [(m, f, getattr(m, f)) for m in (asyncio, asyncio.streams)
             for f in _STREAM_FUNCTIONS]
    module = importlib.import_module("rsloop")
    for m, f, original in saved:
        setattr(m, f, original)
    return module.new_event_loop()


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
