"""Write flow control of the Python transports (datagram, write pipe), with asyncio's
rules: ``pause_writing()`` once the buffer grows above the high-water mark,
``resume_writing()`` once it is down to the low-water mark; a protocol whose callback
raises is reported to the exception handler. (Stream sockets do this natively.)"""

from __future__ import annotations


class FlowControl:
    """Mixed into a transport that has ``_loop``, ``_protocol`` and
    ``get_write_buffer_size()``."""

    _protocol_paused = False
    _high_water = 64 * 1024
    _low_water = 16 * 1024

    def get_write_buffer_limits(self):
        return (self._low_water, self._high_water)

    def set_write_buffer_limits(self, high=None, low=None) -> None:
        if high is None:
            high = 64 * 1024 if low is None else 4 * low
        if low is None:
            low = high // 4
        if not high >= low >= 0:
            raise ValueError(f"high ({high!r}) must be >= low ({low!r}) must be >= 0")
        self._high_water, self._low_water = high, low
        self._maybe_pause_protocol()

    def _flow(self, name: str) -> None:
        try:
            getattr(self._protocol, name)()
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._loop.call_exception_handler({
                "message": f"protocol.{name}() failed", "exception": exc,
                "transport": self, "protocol": self._protocol,
            })

    def _maybe_pause_protocol(self) -> None:
        if self.get_write_buffer_size() > self._high_water and not self._protocol_paused:
            self._protocol_paused = True
            self._flow("pause_writing")

    def _maybe_resume_protocol(self) -> None:
        if self._protocol_paused and self.get_write_buffer_size() <= self._low_water:
            self._protocol_paused = False
            self._flow("resume_writing")
