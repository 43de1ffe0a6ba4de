"""Puts aioxide under CPython's own test.test_asyncio, and records which loop each test
really ran on.

This module patches the *test suite's* infrastructure (never asyncio for users):

* the default event loop policy becomes ``aioxide.EventLoopPolicy``, so every loop a
  test gets through the policy (``asyncio.new_event_loop()``, ``asyncio.run``, the
  policy reset in each module's ``tearDownModule``) is an aioxide loop;
* ``asyncio.EventLoop`` (3.13+) is ``aioxide.Loop``;
* test classes with a ``create_event_loop()`` hook get aioxide loops from it, and a
  ``new_loop()`` hook or ``setUp`` that builds ``asyncio.BaseEventLoop()`` (and then
  decorates it with mocks that are harmless to aioxide) gets an aioxide loop; the
  variants that differ only by selector (Select/Poll/Epoll) collapse to one class;
* ``test_utils.TestLoop``, the fake-clock loop most of test_tasks uses, is replaced by
  ``AioxideTestLoop``: an aioxide loop on a manual clock driven by the same generator
  protocol.

Each test is classified by the loops created or run while it ran: ``aioxide`` when
aioxide loops only, ``stdlib`` when any stdlib loop ran, ``none`` when no loop at all.
"""

from __future__ import annotations

import asyncio
import asyncio.base_events
import inspect

import aioxide

COUNTS = {"aioxide": 0, "stdlib": 0}


def _counting(cls, key, name):
    original = getattr(cls, name)

    def wrapper(self, *args, **kwargs):
        COUNTS[key] += 1
        return original(self, *args, **kwargs)

    wrapper.__name__ = original.__name__
    wrapper.__qualname__ = original.__qualname__
    wrapper.__doc__ = original.__doc__
    setattr(cls, name, wrapper)


class AioxideTestLoop(aioxide.Loop):
    """test_utils.TestLoop's contract on an aioxide loop: time starts at 0 and moves only
    by ``advance_time`` or by what the generator answers for each scheduled deadline
    after every iteration."""

    def __init__(self, gen=None):
        super().__init__()
        self._use_manual_clock(0.0)
        if gen is None:

            def gen():
                yield

            self._check_on_close = False
        else:
            self._check_on_close = True
        self._gen = gen()
        next(self._gen)
        self._timers = []
        self._set_iteration_hook(self._feed_generator)

    def advance_time(self, advance):
        if advance:
            self._advance_clock(advance)

    def _feed_generator(self):
        timers, self._timers = self._timers, []
        for when in timers:
            self.advance_time(self._gen.send(when))

    def call_at(self, when, callback, *args, context=None):
        self._timers.append(when)
        return super().call_at(when, callback, *args, context=context)

    def call_later(self, delay, callback, *args, context=None):
        if delay is None:
            raise TypeError("delay must not be None")
        return self.call_at(self.time() + delay, callback, *args, context=context)

    def close(self):
        super().close()
        if self._check_on_close:
            try:
                self._gen.send(0)
            except StopIteration:
                pass
            else:  # pragma: no cover
                raise AssertionError("Time generator is not finished")


def install() -> None:
    from asyncio import unix_events

    from aioxide import _entry

    policy = _entry.policy_class()
    # 3.11-3.13 build the default policy from asyncio.DefaultEventLoopPolicy; 3.14 from
    # unix_events._DefaultEventLoopPolicy, and its public setter warns.
    asyncio.events.DefaultEventLoopPolicy = unix_events._DefaultEventLoopPolicy = policy
    if "DefaultEventLoopPolicy" in vars(asyncio):
        asyncio.DefaultEventLoopPolicy = policy
    getattr(asyncio.events, "_set_event_loop_policy", asyncio.set_event_loop_policy)(None)
    # 3.13+ tests name asyncio.EventLoop (the platform's default loop class) directly,
    # as a loop_factory or a constructor: the modules are imported after this.
    if hasattr(asyncio, "EventLoop"):
        asyncio.EventLoop = unix_events.EventLoop = aioxide.Loop
    for name in ("__init__", "run_forever"):
        _counting(aioxide.Loop, "aioxide", name)
        _counting(asyncio.base_events.BaseEventLoop, "stdlib", name)
    from test.test_asyncio import utils as test_utils

    test_utils.TestLoop = AioxideTestLoop


def adapt_module(module) -> list[str]:
    """Point ``create_event_loop`` hooks at aioxide; drop selector-variant duplicates.
    Returns the names of the classes dropped."""
    import unittest

    seen_bases = set()
    dropped = []
    for name, obj in sorted(vars(module).items()):
        if not (isinstance(obj, type) and issubclass(obj, unittest.TestCase)):
            continue
        setup = vars(obj).get("setUp")
        if setup is not None and "BaseEventLoop()" in inspect.getsource(setup):
            obj.setUp = _building_aioxide(setup)
        if "create_event_loop" not in vars(obj) and "new_loop" not in vars(obj):
            continue
        if getattr(obj, "__unittest_skip__", False):
            continue  # e.g. the Windows-only Proactor variant: it must not hide ours
        if obj.__bases__ in seen_bases:
            delattr(module, name)
            dropped.append(name)
            continue
        seen_bases.add(obj.__bases__)
        if "create_event_loop" in vars(obj):
            obj.create_event_loop = lambda self: aioxide.new_event_loop()
        if "new_loop" in vars(obj):
            obj.new_loop = _building_aioxide(obj.new_loop)
    return dropped


def _building_aioxide(hook):
    """Run ``hook`` (which builds ``asyncio.BaseEventLoop()`` or
    ``asyncio.SelectorEventLoop()``) with those names bound to aioxide's loop."""

    def building(self):
        saved = asyncio.BaseEventLoop, asyncio.SelectorEventLoop
        asyncio.BaseEventLoop = asyncio.SelectorEventLoop = aioxide.Loop
        try:
            return hook(self)
        finally:
            asyncio.BaseEventLoop, asyncio.SelectorEventLoop = saved

    return building


def snapshot() -> tuple[int, int]:
    return COUNTS["aioxide"], COUNTS["stdlib"]


def classify(before: tuple[int, int], after: tuple[int, int]) -> str:
    if after[1] > before[1]:
        return "stdlib"
    if after[0] > before[0]:
        return "aioxide"
    return "none"
