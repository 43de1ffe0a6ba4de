"""Futures and tasks: the task factory (``create_future`` and ``create_task`` are native:
``crates/aioxide-py/src/tasks.rs``; this calls a factory when one is set).

Futures and tasks are CPython's own (the C ``_asyncio`` types when available), so every
asyncio combinator works unchanged on this loop.
"""

from __future__ import annotations

from asyncio import tasks
from typing import Any, Callable

from . import _versions

TaskFactory = Callable[..., Any]


def _set_name(task: Any, name: str | None) -> None:
    setter = getattr(tasks, "_set_task_name", None)
    if setter is not None:
        setter(task, name)
    elif name is not None:
        task.set_name(name)


class TaskMixin:
    _task_factory: TaskFactory | None = None

    def _create_task_with_factory(self, factory, coro, name, context, kwargs):
        """``create_task`` (native) with a task factory set: call it as this Python
        version's asyncio does."""
        self._check_closed()
        if context is not None:
            kwargs["context"] = context
        if _versions.TASK_FACTORY_GETS_NAME:
            if name is not None:
                kwargs["name"] = name
            return factory(self, coro, **kwargs)
        task = factory(self, coro, **kwargs)
        if _versions.TASK_FACTORY_NAME_SET_ALWAYS:
            task.set_name(name)
        else:
            _set_name(task, name)
        try:
            return task
        finally:
            # An eager task's error keeps its traceback's frames and their callers' (this
            # one): without this, task -> error -> this frame -> task (gh-128552).
            del task

    def set_task_factory(self, factory: TaskFactory | None) -> None:
        if factory is not None and not callable(factory):
            raise TypeError("task factory must be a callable or None")
        self._task_factory = factory

    def get_task_factory(self) -> TaskFactory | None:
        return self._task_factory
