"""The loop's exception handler API (``set_exception_handler`` and friends).

Records go to asyncio's logger, looked up as ``asyncio.base_events.logger`` at call
time so that code (and tests) that patch that name see our records too.
Behaviour and log text follow asyncio's: the default handler logs one ERROR record on the
``asyncio`` logger with the message, every other context key as ``key: repr(value)`` in
sorted order, and the exception's traceback.
"""

from __future__ import annotations

import traceback
from asyncio import base_events
from typing import Any, Callable

from . import _versions

ExceptionHandler = Callable[[Any, dict], object]

_TRACEBACK_TITLES = {
    "source_traceback": "Object created at (most recent call last):\n",
    "handle_traceback": "Handle created at (most recent call last):\n",
}


def _describe(key: str, value: Any) -> str:
    title = _TRACEBACK_TITLES.get(key)
    if title is None:
        return repr(value)
    return title + "".join(traceback.format_list(value)).rstrip()


class ExceptionHandlerMixin:
    """Over the loop's ``_exception_handler``."""

    def set_exception_handler(self, handler: ExceptionHandler | None) -> None:
        if handler is not None and not callable(handler):
            raise TypeError(f"A callable object or None is expected, got {handler!r}")
        self._exception_handler = handler

    def get_exception_handler(self) -> ExceptionHandler | None:
        return self._exception_handler

    def default_exception_handler(self, context: dict) -> None:
        message = context.get("message") or "Unhandled exception in event loop"
        exception = context.get("exception")
        exc_info: Any = False
        if exception is not None:
            exc_info = (type(exception), exception, exception.__traceback__)
        current = self._current_handle
        if (
            "source_traceback" not in context
            and current is not None
            and getattr(current, "_source_traceback", None)
        ):
            context["handle_traceback"] = current._source_traceback
        lines = [message]
        lines.extend(
            f"{key}: {_describe(key, context[key])}"
            for key in sorted(context)
            if key not in ("message", "exception")
        )
        base_events.logger.error("\n".join(lines), exc_info=exc_info)

    def call_exception_handler(self, context: dict) -> None:
        handler = self._exception_handler
        if handler is None:
            try:
                self.default_exception_handler(context)
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException:
                base_events.logger.error("Exception in default exception handler", exc_info=True)
            return
        try:
            ctx = _versions.exception_context(context)
            if ctx is not None:
                ctx.run(handler, self, context)
            else:
                handler(self, context)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            try:
                self.default_exception_handler(
                    {
                        "message": "Unhandled error in exception handler",
                        "exception": exc,
                        "context": context,
                    }
                )
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException:
                base_events.logger.error(
                    "Exception in default exception handler while handling an "
                    "unexpected error in custom exception handler",
                    exc_info=True,
                )
