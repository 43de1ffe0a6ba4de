"""Where asyncio differs between the CPython releases aioxide runs on: one flag per
difference, named for the behaviour, with the release that brought it. The rest of the
package asks these instead of comparing versions itself. (The native code's few
differences sit beside the code they change: handle reprs in ``handle.rs``, the
``write()`` type error in ``transport/stream.rs``.)

Micro releases are those of the CPython changes named (gh-N); 3.12 has no interpreter
here to check against.
"""

from __future__ import annotations

import inspect
import sys
from asyncio import base_events, coroutines

_V = sys.version_info

# gh-114887 (3.11.9, 3.12.3): create_datagram_endpoint(sock=) rejects only stream sockets.
DATAGRAM_REJECTS_ONLY_STREAM = _V >= (3, 12, 3) or (3, 11, 9) <= _V < (3, 12)

# gh-121913 (3.12.5): bind errors quote str(exc), errno included, not exc.strerror.
BIND_ERROR_QUOTES_STR = _V >= (3, 12, 5)

# 3.12.1: Server.wait_closed() waits for the connections even before close().
WAIT_CLOSED_BEFORE_CLOSE = _V >= (3, 12, 1)

# 3.13: create_unix_server(cleanup_socket=), Server.close_clients()/abort_clients().
UNIX_SERVER_CLEANUP = _V >= (3, 13)

# gh-153133 (3.14): create_connection(sock=) closes the socket when the protocol factory
# or the transport fails, so no transport is left owning nothing.
CONNECTION_CLOSES_SOCK_ON_SETUP_ERROR = _V >= (3, 14)

# create_task with a task factory: 3.13.0-3.13.3 and 3.14 pass name= to the factory;
# 3.13.4 went back to setting it afterwards, set_name(None) included; 3.11/3.12 name the
# task only when a name is given. Native: crates/aioxide-py/src/task_factory.rs.

# 3.13.x/3.14: sendfile leaves the file at offset + sent even when nothing was sent, and
# its fallback seeks to a zero offset too. Asked of the stdlib (its native helper lost
# the total_sent parameter with that change): the micro release is not known here.
def _sendfile_always_seeks() -> bool:
    from asyncio import unix_events

    helper = getattr(unix_events._UnixSelectorEventLoop, "_sock_sendfile_update_filepos",
                     None)
    return helper is not None and len(inspect.signature(helper).parameters) == 3


SENDFILE_ALWAYS_SEEKS = _sendfile_always_seeks()

def _stdlib_does(func, text: str, otherwise: bool) -> bool:
    """Whether the stdlib's ``func`` contains ``text``: for fixes that reached 3.13 in a
    micro release not known here. ``otherwise`` when its source is not installed."""
    try:
        return text in inspect.getsource(func)
    except (OSError, TypeError):
        return otherwise


# gh-123720 (3.13.x, 3.14): a cancelled serve_forever() closes the clients' transports,
# so that wait_closed() does not wait on a client that never hangs up.
SERVE_FOREVER_CLOSES_CLIENTS = _stdlib_does(
    base_events.Server.serve_forever, "self.close_clients()", _V >= (3, 14))

# 3.15: a binary file opened "w+b" reports its mode as "wb+" (before: "rb+").
TRUNCATING_PLUS_MODE_IS_W = _V >= (3, 15)

# 3.14: the policy system is deprecated (asyncio.DefaultEventLoopPolicy warns).
POLICY_DEPRECATED = _V >= (3, 14)

# Before 3.14 asyncio routes every child through the policy's child watcher.
CHILD_WATCHERS = _V < (3, 14)
# 3.11 uses what the watcher's __enter__ returns; 3.12 and 3.13 the watcher itself.
CHILD_WATCHER_FROM_ENTER = _V < (3, 12)


def exception_context(context: dict):
    """The contextvars context a custom exception handler runs in: from 3.12 (gh-96704)
    that of the task, future or handle the error came from; before, the caller's."""
    if _V < (3, 12):
        return None
    thing = context.get("task")
    if thing is None:
        thing = context.get("future")
    if thing is None:
        thing = context.get("handle")
    ctx = thing.get_context() if hasattr(thing, "get_context") else None
    return ctx if hasattr(ctx, "run") else None


def bind_error(address, exc: OSError) -> OSError:
    """asyncio's error for a failed ``bind`` of ``address``."""
    text = str(exc) if BIND_ERROR_QUOTES_STR else exc.strerror
    return OSError(exc.errno, f"error while attempting to bind on address {address!r}: "
                   f"{text.lower()}")


# 3.14 deprecates asyncio.iscoroutinefunction; its private twin stays (3.12+ has it).
_asyncio_iscoroutinefunction = getattr(
    coroutines, "_iscoroutinefunction", coroutines.iscoroutinefunction)


def iscoroutinefunction(func) -> bool:
    """asyncio's test: a coroutine function, one marked by ``inspect``'s
    ``markcoroutinefunction`` (3.12+), or by asyncio's legacy marker."""
    return inspect.iscoroutinefunction(func) or _asyncio_iscoroutinefunction(func)
