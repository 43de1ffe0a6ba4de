"""Carrying contextvars changes back across a bridge."""

from __future__ import annotations

import contextvars

from ._waiter import current_waiter

_MISSING = object()


def copy_back(context: contextvars.Context) -> None:
    """Set, in the current context, every variable whose value differs in ``context``.

    The bridged code ran in ``context`` (a copy of the caller's), so its changes reach
    the caller. aioxide.sync's own bookkeeping variable is skipped.
    """
    for var, value in context.items():
        if var is current_waiter:
            continue
        if var.get(_MISSING) is not value:
            var.set(value)
