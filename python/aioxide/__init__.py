"""aioxide: a drop-in asyncio event loop written in Rust.

    import aioxide
    aioxide.run(main())

or ``asyncio.Runner(loop_factory=aioxide.new_event_loop)``. Importing aioxide changes
nothing in asyncio; ``aioxide.install()`` sets the event loop policy when asked.
"""

from . import _versions, debug, fs, sync
from ._aioxide import Handle, TimerHandle
from ._entry import install, new_event_loop, run
from ._loop import Loop

__version__ = "0.1.0"


def __getattr__(name: str):
    if name == "EventLoopPolicy":  # made on first use: it subclasses a deprecated API
        from . import _entry

        _entry._deprecated("aioxide.EventLoopPolicy")
        return _entry.policy_class()
    raise AttributeError(f"module 'aioxide' has no attribute {name!r}")

__all__ = [
    "debug",
    "fs",
    "sync",
    "Handle",
    "Loop",
    "TimerHandle",
    "install",
    "new_event_loop",
    "run",
]
if not _versions.POLICY_DEPRECATED:
    __all__.append("EventLoopPolicy")
