"""Handle and TimerHandle: repr (compared with the stdlib loop's), cancel, context."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import re
import sys

import pytest


def cb():
    pass


def cb_args(*args):
    pass


# -- handle repr ---------------------------------------------------------------------------

HANDLE_RE = r"<Handle cb\(\) at .+test_handles\.py:\d+>"
HANDLE_ARGS_RE = r"<Handle cb_args\(1, 'x'\) at .+test_handles\.py:\d+"
HANDLE_NO_ARGS_RE = r"<Handle cb_args\(\) at .+test_handles\.py:\d+"
TIMER_RE = r"<TimerHandle when=(?P<when>[0-9.e+-]+) cb\(\) at .+test_handles\.py:\d+>"
TIMER_CANCELLED_RE = r"<TimerHandle cancelled when=(?P<when>[0-9.e+-]+)>"


@pytest.fixture
def ref_loop():
    """A stdlib loop whose handles show what our reprs must look like."""
    ev = asyncio.new_event_loop()
    yield ev
    ev.close()


def test_handle_repr(loop, ref_loop):
    loop.set_debug(False)  # as by default; PYTHONASYNCIODEBUG=1 adds "created at"
    ref_loop.set_debug(False)
    ours = loop.call_soon(cb)
    ref = ref_loop.call_soon(cb)
    assert re.fullmatch(HANDLE_RE, repr(ref))
    assert repr(ours) == repr(ref)


@pytest.mark.parametrize("debug", [False, True], ids=["normal", "debug"])
def test_handle_repr_with_arguments(loop, ref_loop, debug):
    # From 3.13 the arguments show only in debug mode.
    loop.set_debug(debug)
    ref_loop.set_debug(debug)
    ours = loop.call_soon(cb_args, 1, "x")
    ref = ref_loop.call_soon(cb_args, 1, "x")
    shown = debug or sys.version_info < (3, 13)
    assert re.match(HANDLE_ARGS_RE if shown else HANDLE_NO_ARGS_RE, repr(ref)), repr(ref)
    # debug mode adds where each was created: two lines of this test
    assert repr(ours).split(" created at ")[0] == repr(ref).split(" created at ")[0]
    assert (" created at " in repr(ours)) == debug


def test_handle_repr_of_partial(loop, ref_loop):
    loop.set_debug(False)  # as by default; PYTHONASYNCIODEBUG=1 adds "created at"
    ref_loop.set_debug(False)
    ours = loop.call_soon(functools.partial(cb_args, 2))
    ref = ref_loop.call_soon(functools.partial(cb_args, 2))
    assert repr(ours) == repr(ref)


def test_cancelled_handle_repr(loop, ref_loop):
    loop.set_debug(False)  # as by default; PYTHONASYNCIODEBUG=1 adds "created at"
    ref_loop.set_debug(False)
    ours = loop.call_soon(cb)
    ref = ref_loop.call_soon(cb)
    ours.cancel()
    ref.cancel()
    assert repr(ref) == "<Handle cancelled>"
    assert repr(ours) == repr(ref)


def test_timer_handle_repr(loop, ref_loop):
    loop.set_debug(False)  # as by default; PYTHONASYNCIODEBUG=1 adds "created at"
    ref_loop.set_debug(False)
    ours = loop.call_at(1234.5, cb)
    ref = ref_loop.call_at(1234.5, cb)
    match = re.fullmatch(TIMER_RE, repr(ours))
    assert match, repr(ours)
    assert float(match["when"]) == 1234.5
    assert repr(ours) == repr(ref)
    ours.cancel()
    ref.cancel()


def test_cancelled_timer_handle_repr(loop, ref_loop):
    loop.set_debug(False)  # as by default; PYTHONASYNCIODEBUG=1 adds "created at"
    ref_loop.set_debug(False)
    ours = loop.call_at(99.25, cb)
    ref = ref_loop.call_at(99.25, cb)
    ours.cancel()
    ref.cancel()
    assert re.fullmatch(TIMER_CANCELLED_RE, repr(ref))
    assert repr(ours) == repr(ref)


def test_handle_get_context(loop):
    ctx = contextvars.copy_context()
    handle = loop.call_soon(cb, context=ctx)
    timer = loop.call_later(10, cb, context=ctx)
    if not hasattr(handle, "get_context"):
        pytest.skip("Handle.get_context() is new in Python 3.12")
    assert handle.get_context() is ctx
    assert timer.get_context() is ctx
    timer.cancel()




def test_timer_handle_when_is_the_deadline_as_given(loop):
    handle = loop.call_at(1234, cb)
    assert handle.when() == 1234
    assert type(handle.when()) is int
    assert "when=1234 " in repr(handle)
    handle.cancel()


def test_nan_deadline_runs_on_the_next_iteration(loop):
    fired = []
    loop.call_later(float("nan"), fired.append, "nan")
    loop.call_later(3600, fired.append, "later")
    loop.call_soon(loop.stop)
    loop.run_forever()
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert fired == ["nan"]


def test_timer_handles_compare_like_asyncio(loop):
    first = loop.call_at(10, cb_args, 1)
    same = loop.call_at(10, cb_args, 1)
    later = loop.call_at(20, cb_args, 1)
    other_args = loop.call_at(10, cb_args, 2)
    assert first == same and not (first != same)
    assert first != later and first < later and later > first
    assert first != other_args
    same.cancel()
    assert first != same
    assert (first == "not a handle") is False
    for h in (first, later, other_args):
        h.cancel()
