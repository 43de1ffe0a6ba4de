"""``forbid_unawaited()``: fail when a coroutine created inside the block is garbage-
collected without having been awaited, naming where it was created."""

from __future__ import annotations

import contextlib
import gc
import sys
import warnings
from collections.abc import Iterator


class UnawaitedCoroutineError(AssertionError):
    """Coroutines were created and dropped without being awaited."""


@contextlib.contextmanager
def forbid_unawaited(depth: int = 10) -> Iterator[None]:
    """Record coroutine origins while the block runs (``depth`` frames); on exit collect
    garbage and raise :class:`UnawaitedCoroutineError` listing every never-awaited
    coroutine with its creation site. Other warnings are passed on unchanged. Uses
    ``warnings.catch_warnings``, so like it this is not thread-safe."""
    saved_depth = sys.get_coroutine_origin_tracking_depth()
    sys.set_coroutine_origin_tracking_depth(max(depth, saved_depth))
    failed = True
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
            failed = False
        finally:
            gc.collect()
            sys.set_coroutine_origin_tracking_depth(saved_depth)
    unawaited = []
    for w in caught:
        if issubclass(w.category, RuntimeWarning) and "was never awaited" in str(w.message):
            unawaited.append(str(w.message))
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno, source=w.source)
    if unawaited and not failed:
        raise UnawaitedCoroutineError(
            f"{len(unawaited)} coroutine(s) never awaited:\n\n" + "\n\n".join(unawaited)
        )
