"""aioxide: a drop-in asyncio event loop written in Rust.

    import aioxide
    aioxide.run(main())

or ``asyncio.Runner(loop_factory=aioxide.new_event_loop)``. Importing aioxide changes
nothing in asyncio; ``aioxide.install()`` sets the event loop policy when asked.
"""

from . import debug, fs, sync
from ._aioxide import Handle, TimerHandle
from ._entry import EventLoopPolicy, install, new_event_loop, run
from ._loop import Loop

__version__ = "0.1.0"

__all__ = [
    "debug",
    "fs",
    "sync",
    "EventLoopPolicy",
    "Handle",
    "Loop",
    "TimerHandle",
    "install",
    "new_event_loop",
    "run",
]
