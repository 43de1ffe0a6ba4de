"""add_signal_handler's refusals, on aioxide and stdlib asyncio (the handlers themselves
are covered by the conformance run's test_unix_events)."""

from __future__ import annotations

import signal
import threading

import pytest


def test_uncatchable_signal_is_a_runtime_error_with_its_cause(loop):
    with pytest.raises(RuntimeError) as raised:
        loop.add_signal_handler(signal.SIGKILL, lambda: None)
    assert str(raised.value) == f"sig {int(signal.SIGKILL)} cannot be caught"
    # asyncio raises it while handling the OSError, which stays visible in tracebacks.
    assert isinstance(raised.value.__context__, OSError)
    assert raised.value.__suppress_context__ is False
    assert loop.remove_signal_handler(signal.SIGKILL) is False


def test_outside_the_main_thread_is_a_runtime_error_with_its_cause(loop):
    errors = []

    def add():
        try:
            loop.add_signal_handler(signal.SIGUSR1, lambda: None)
        except RuntimeError as exc:
            errors.append(exc)

    thread = threading.Thread(target=add)
    thread.start()
    thread.join(10)
    assert len(errors) == 1
    assert isinstance(errors[0].__context__, ValueError)
    assert errors[0].__suppress_context__ is False
