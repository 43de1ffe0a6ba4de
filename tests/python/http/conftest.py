"""Fixtures for the HTTP client tests (the ``loop`` fixture comes from tests/python).

Every test runs for each client module (``aiohttp``, the reference, and ``aioxide.http``)
on each loop (aioxide, stdlib asyncio). Servers run on the same loop as the client.
"""

from __future__ import annotations

import importlib

import pytest
from _util import no_resource_warnings

CLIENTS = {"aiohttp": "aiohttp", "aioxide": "aioxide.http"}


@pytest.fixture(params=list(CLIENTS), ids=list(CLIENTS))
def http(request):
    """The client module under test: ``aiohttp`` or ``aioxide.http``."""
    try:
        return importlib.import_module(CLIENTS[request.param])
    except ImportError:
        if request.param == "aiohttp":
            raise
        # TODO: drop this skip once aioxide.http exists.
        pytest.skip("aioxide.http is not written yet")


@pytest.fixture(autouse=True)
def _no_resource_warnings(loop, http):
    """Fail a test that leaves a session, connection or socket to the garbage collector.
    (Taking ``http`` first skips a test for a missing client before collecting.)"""
    with no_resource_warnings():
        yield
