"""pytest fixture ``forbid_unawaited_coroutines``: enable with
``pytest_plugins = ["aioxide.debug.pytest_plugin"]`` in a conftest.py."""

from __future__ import annotations

import pytest

from ._unawaited import forbid_unawaited


@pytest.fixture
def forbid_unawaited_coroutines():
    """Fail the test if it creates a coroutine that is never awaited."""
    with forbid_unawaited():
        yield
