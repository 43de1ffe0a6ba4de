"""The shipped stubs (_aioxide.pyi) match the built native module."""

from __future__ import annotations

import ast
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
