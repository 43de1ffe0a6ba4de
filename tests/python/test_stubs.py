"""The shipped stubs (_aioxide.pyi) match the built native module."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import aioxide._aioxide as native

STUBS = Path(native.__file__).with_name("_aioxide.pyi")


def _stub_classes() -> dict[str, list[str]]:
    tree = ast.parse(STUBS.read_text())
    return {node.name: [item.name for item in node.body if isinstance(item, ast.FunctionDef)]
            for node in tree.body if isinstance(node, ast.ClassDef)}


def test_every_stubbed_method_exists():
    missing = [f"{cls}.{name}" for cls, names in _stub_classes().items()
               for name in names if not hasattr(getattr(native, cls), name)]
    assert missing == []


def test_every_native_class_is_stubbed():
    classes = {name for name, obj in vars(native).items()
               if isinstance(obj, type) and not name.startswith("_")}
    assert classes <= set(_stub_classes())


def _stub_params(fn: ast.FunctionDef) -> list[str]:
    """Parameter names as ``inspect`` shows them: ``*``/``**`` for variadics, ``=`` for a
    default, ``self`` dropped."""
    a = fn.args
    positional = a.posonlyargs + a.args
    defaults = [None] * (len(positional) - len(a.defaults)) + a.defaults
    names = [p.arg + ("=" if d is not None else "")
             for p, d in zip(positional, defaults, strict=True)]
    names = names[1:] if names and names[0] in ("self", "cls") else names
    if a.vararg:
        names.append("*" + a.vararg.arg)
    names += [p.arg + ("=" if d is not None else "")
              for p, d in zip(a.kwonlyargs, a.kw_defaults, strict=True)]
    if a.kwarg:
        names.append("**" + a.kwarg.arg)
    return names


def _native_params(obj) -> list[str]:
    marks = {inspect.Parameter.VAR_POSITIONAL: "*", inspect.Parameter.VAR_KEYWORD: "**"}
    return [marks.get(p.kind, "") + p.name + ("=" if p.default is not p.empty else "")
            for p in inspect.signature(obj).parameters.values() if p.name not in ("self", "cls")]


def _is_property(fn: ast.FunctionDef) -> bool:
    return any(isinstance(d, ast.Name) and d.id == "property" for d in fn.decorator_list)


def _stubbed_callables():
    tree = ast.parse(STUBS.read_text())
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            yield node.name, getattr(native, node.name), node
        elif isinstance(node, ast.ClassDef):
            cls = getattr(native, node.name)
            for item in node.body:
                if not isinstance(item, ast.FunctionDef) or _is_property(item):
                    continue
                if item.name == "__init__":
                    yield node.name, cls, item  # pyo3 puts #[new]'s signature on the class
                elif not item.name.startswith("__"):  # slot wrappers have the protocol's
                    yield f"{node.name}.{item.name}", getattr(cls, item.name), item


def test_stubbed_signatures_match_native():
    checked, wrong = 0, []
    for name, obj, fn in _stubbed_callables():
        stub, built = _stub_params(fn), _native_params(obj)
        checked += 1
        if stub != built:
            wrong.append(f"{name}: stub {stub}, native {built}")
    assert checked > 100
    assert wrong == []
