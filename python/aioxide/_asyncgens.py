"""Async-generator finalization: the hooks ``run_forever`` installs and
``shutdown_asyncgens``."""

from __future__ import annotations

import warnings
from asyncio import tasks


class AsyncGenMixin:
    """Over the loop's ``_asyncgens`` (async generators first iterated on it and not
    finalized yet) and ``_asyncgens_shutdown_called``, both made with the loop."""

    def _asyncgen_firstiter_hook(self, agen) -> None:
        if self._asyncgens_shutdown_called:
            warnings.warn(
                f"asynchronous generator {agen!r} was scheduled after "
                "loop.shutdown_asyncgens() call",
                ResourceWarning,
                source=self,
                stacklevel=2,
            )
        self._asyncgens.add(agen)

    def _asyncgen_finalizer_hook(self, agen) -> None:
        self._asyncgens.discard(agen)
        if not self.is_closed():
            self.call_soon_threadsafe(self.create_task, agen.aclose())

    async def shutdown_asyncgens(self) -> None:
        """Close every async generator still alive that was first iterated on this loop."""
        self._asyncgens_shutdown_called = True
        if not self._asyncgens:
            return
        agens = list(self._asyncgens)
        self._asyncgens.clear()
        results = await tasks.gather(*[agen.aclose() for agen in agens], return_exceptions=True)
        for agen, result in zip(agens, results, strict=True):
            if isinstance(result, Exception):
                self.call_exception_handler(
                    {
                        "message": "an error occurred during closing of asynchronous "
                        f"generator {agen!r}",
                        "exception": result,
                        "asyncgen": agen,
                    }
                )
