"""Rust calls up into Python only through public names (protocols, callbacks, asyncio's
API) and the stdlib's own private helpers listed here; issue #27 removes the rest.

Each private name (one leading underscore) written as a string in the bindings' Rust is
either a stdlib name read from a stdlib object, or one of aioxide's own Python methods
that Rust still calls by name. The second list may only shrink: a new name fails here,
and so does a name that is gone but still listed."""

from __future__ import annotations

import re
from pathlib import Path

RUST = Path(__file__).resolve().parents[2] / "crates" / "aioxide-py" / "src"

# Private names of the stdlib that the bindings read, and where from (or asyncio's own
# private contract between objects).
STDLIB = {
    "_getframe": "sys",
    "_warn_unawaited_coroutine": "warnings (a native coroutine never awaited)",
    "_format_callback_source": "asyncio.format_helpers (handle reprs)",
    "_iscoroutinefunction": "asyncio.coroutines (call_soon's check in debug mode)",
    "_sslobj": "ssl.SSLObject's C object",
    "_source_traceback": "asyncio's C Task, set in debug mode as asyncio does",
    "_set_task_name": "asyncio.tasks (3.11/3.12: naming a factory's task)",
    "_force_close": "asyncio's contract: SSL force-closes the transport beneath it",
}

# aioxide's own Python that Rust still calls by name (issue #27: to be made native or
# handed over at construction).
STILL_CALLED_BY_NAME = {
    "_detach_server": "server accounting when a connection ends",
    "_sock_recv_slow": "sock_recv's path for objects that are not plain sockets",
    "_sock_sendall_slow": "sock_sendall's path for objects that are not plain sockets",
}


def _private_names_in_rust() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in sorted(RUST.rglob("*.rs")):
        for match in re.finditer(r'"(_[a-z][a-z0-9_]*)"', path.read_text()):
            found.setdefault(match.group(1), []).append(str(path.relative_to(RUST)))
    return found


def test_rust_calls_no_private_python_name_of_aioxides_beyond_the_known_ones():
    found = _private_names_in_rust()
    unexplained = {name: files for name, files in found.items()
                   if name not in STDLIB and name not in STILL_CALLED_BY_NAME}
    assert unexplained == {}


def test_the_list_of_names_still_called_only_shrinks():
    found = _private_names_in_rust()
    gone = set(STILL_CALLED_BY_NAME) - set(found)
    assert gone == set(), "no longer called from Rust: remove them from the list"
    assert len(found) >= len(STILL_CALLED_BY_NAME)  # the scan itself found the sources
