"""Rust calls up into Python only through public names (protocols, callbacks, asyncio's
API), objects handed to it, and the stdlib's own private helpers listed here: never
through a private name of aioxide's own Python (issue #27).

Each private name (one leading underscore) written as a string in the bindings' Rust
must be one of the stdlib's below; the list is exact, so a name that is no longer used
must leave it too."""

from __future__ import annotations

import ast
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


def _private_names_in_rust() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in sorted(RUST.rglob("*.rs")):
        for match in re.finditer(r'"(_[a-z][a-z0-9_]*)"', path.read_text()):
            found.setdefault(match.group(1), []).append(str(path.relative_to(RUST)))
    return found


def test_rust_calls_no_private_python_name_of_aioxides():
    found = _private_names_in_rust()
    unexplained = {name: files for name, files in found.items() if name not in STDLIB}
    assert unexplained == {}


def test_every_allowed_stdlib_name_is_still_used():
    assert set(STDLIB) - set(_private_names_in_rust()) == set()


def _module_imports() -> dict[str, set[str]]:
    """aioxide's modules and the aioxide modules each one imports (anywhere in it)."""
    root = RUST.parents[2] / "python"
    files = {}
    for path in (root / "aioxide").rglob("*.py"):
        parts = list(path.relative_to(root).with_suffix("").parts)
        package = parts[-1] == "__init__"
        files[".".join(parts[:-1] if package else parts)] = (path, package)
    graph = {}
    for name, (path, package) in files.items():
        here = name.split(".") if package else name.split(".")[:-1]
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                base = here[:len(here) - node.level + 1] if node.level else []
                target = ".".join(base + ([node.module] if node.module else []))
                for alias in node.names:
                    sub = f"{target}.{alias.name}"
                    deps.add(sub if sub in files else target)
            elif isinstance(node, ast.Import):
                deps.update(alias.name for alias in node.names)
        graph[name] = {d for d in deps if d in files and d != name}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    cycles = []
    for start in graph:
        stack = [(start, [start])]
        seen = set()
        while stack:
            node, path = stack.pop()
            for dep in graph[node]:
                if dep == start:
                    cycles.append(path)
                elif dep not in seen:
                    seen.add(dep)
                    stack.append((dep, path + [dep]))
    return cycles


def _rust_module_uses() -> dict[str, set[str]]:
    """The bindings' top-level modules (a file or a folder under src/) and the other
    top-level modules each one names as ``crate::module``."""
    graph: dict[str, set[str]] = {}
    for path in RUST.rglob("*.rs"):
        top = path.relative_to(RUST).parts[0].removesuffix(".rs")
        uses = set(re.findall(r"crate::(\w+)", path.read_text()))
        graph.setdefault(top, set()).update(uses - {top})
    return {name: {d for d in deps if d in graph} for name, deps in graph.items()}


def test_no_cycles_between_the_bindings_rust_modules():
    graph = _rust_module_uses()
    assert {"event_loop", "transport", "sockets"} <= set(graph)
    assert "event_loop" in graph["transport"]  # the graph sees real uses
    assert _cycles(graph) == []


def test_no_import_cycles_between_aioxides_modules():
    graph = _module_imports()
    assert "aioxide._loop" in graph and graph["aioxide._loop"]
    assert _cycles(graph) == []


def _rust_fn_names(path: Path) -> set[str]:
    return set(re.findall(r"^\s*(?:pub(?:\(crate\))? )?fn (\w+)", path.read_text(), re.M))


def test_the_shared_transport_lifecycle_is_written_once():
    """The stream, pipe and datagram cores' lifecycle operations are written in
    `transport/lifecycle.rs` only; each core declares them with `lifecycle_methods!`."""
    operations = {
        "close", "abort", "_force_close", "force_close", "fatal_error",
        "schedule_connection_lost", "is_closing", "is_reading", "pause_reading",
        "resume_reading", "_start_reading", "get_write_buffer_size",
        "get_write_buffer_limits", "set_write_buffer_limits", "protocol_paused",
        "get_protocol", "set_protocol", "watch_step", "watch_read", "unwatch", "flow",
        "transport", "protocol", "sock", "event_loop",
    }
    assert operations <= _rust_fn_names(RUST / "transport" / "lifecycle.rs")
    for name in ("stream.rs", "stream_io.rs", "datagram.rs"):
        path = RUST / "transport" / name
        assert _rust_fn_names(path) & operations == set(), name
    for name in ("stream.rs", "datagram.rs"):
        assert "lifecycle_methods!(" in (RUST / "transport" / name).read_text()
