"""How call_soon, call_soon_threadsafe, call_later and call_at bind their arguments.

aioxide parses these calls itself (``FastcallMethod`` in ffi/fastcall.rs, ``bind_call`` in
scheduling.rs), so these check it binds them as Python binds asyncio's signatures
``call_soon(callback, *args, context=None)`` and ``call_at(when, callback, *args,
context=None)``: the named parameters by keyword too, one or many ``*args``, and the
same TypeErrors. Each runs on both loops.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect

import pytest


def _run_once(loop):
    loop.run_until_complete(asyncio.sleep(0))


def _message(exc: BaseException) -> str:
    """The TypeError's text without the class name (asyncio says BaseEventLoop.x())."""
    text = str(exc)
    return text.split(".", 1)[1] if text.split("(", 1)[0].count(".") else text


@pytest.mark.parametrize("n", [0, 1, 2, 5])
def test_any_number_of_arguments(loop, n):
    got = []
    handle = loop.call_soon(lambda *a: got.append(a), *range(n))
    assert handle._args == tuple(range(n))
    loop.call_soon_threadsafe(lambda *a: got.append(a), *range(n))
    _run_once(loop)
    assert got == [tuple(range(n))] * 2


def test_named_parameters_by_keyword(loop):
    got = []
    loop.call_soon(callback=lambda: got.append("soon"))
    loop.call_soon_threadsafe(callback=lambda: got.append("threadsafe"))
    loop.call_later(delay=0, callback=lambda: got.append("later"))
    loop.call_at(when=loop.time(), callback=lambda: got.append("at"))
    loop.call_later(0, callback=got.append, context=None)
    loop.run_until_complete(asyncio.sleep(0.01))
    assert got[:2] == ["soon", "threadsafe"]
    assert sorted(got[2:4]) == ["at", "later"]


def test_context_by_keyword(loop):
    var = contextvars.ContextVar("var", default="outer")
    ctx = contextvars.copy_context()
    ctx.run(var.set, "inner")
    got = []
    loop.call_soon(lambda x: got.append((x, var.get())), 1, context=ctx)
    loop.call_later(0, lambda: got.append(var.get()), context=ctx)
    loop.call_soon(lambda: got.append(var.get()), context=None)
    loop.run_until_complete(asyncio.sleep(0.01))
    assert got == [(1, "inner"), "outer", "inner"]


@pytest.mark.parametrize(
    "call, expected",
    [
        (
            lambda lp: lp.call_soon(),
            "call_soon() missing 1 required positional argument: 'callback'",
        ),
        (
            lambda lp: lp.call_soon(print, x=1),
            "call_soon() got an unexpected keyword argument 'x'",
        ),
        (
            lambda lp: lp.call_soon(print, 1, callback=print),
            "call_soon() got multiple values for argument 'callback'",
        ),
        (
            lambda lp: lp.call_soon_threadsafe(),
            "call_soon_threadsafe() missing 1 required positional argument: 'callback'",
        ),
        (
            lambda lp: lp.call_later(1),
            "call_later() missing 1 required positional argument: 'callback'",
        ),
        (
            lambda lp: lp.call_at(),
            "call_at() missing 2 required positional arguments: 'when' and 'callback'",
        ),
    ],
)
def test_binding_errors(loop, call, expected):
    with pytest.raises(TypeError) as info:
        call(loop)
    assert _message(info.value) == expected


def test_signatures(loop):
    assert str(inspect.signature(loop.call_soon)) == "(callback, *args, context=None)"
    assert str(inspect.signature(loop.call_later)) == "(delay, callback, *args, context=None)"
    assert str(inspect.signature(loop.call_at)) == "(when, callback, *args, context=None)"


def test_unbound_method_refuses_other_objects(loop):
    # asyncio fails on the missing attribute, aioxide's method on the type: a clean
    # exception either way, never a crash.
    with pytest.raises((TypeError, AttributeError)):
        type(loop).call_soon(object(), print)
