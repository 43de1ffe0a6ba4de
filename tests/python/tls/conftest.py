"""Fixtures for the TLS tests (the ``loop`` fixture comes from tests/python/conftest.py).

Certificates are CPython's own test certificates, shipped with the interpreter in
``Lib/test/certdata``; the tests skip when the interpreter has none.
"""

from __future__ import annotations

import pytest
from _tls_helpers import SIGNED_CERTFILE, SIGNING_CA, client_context, server_context
from _util import no_resource_warnings


@pytest.fixture
def server_ctx():
    """A server context with the "localhost" certificate signed by the test CA."""
    return server_context(SIGNED_CERTFILE)


@pytest.fixture
def client_ctx():
    """A verifying client context (CERT_REQUIRED, check_hostname) trusting the test CA."""
    return client_context(SIGNING_CA)


@pytest.fixture(autouse=True)
def _debug_off(loop):
    """The tests expect asyncio's non-debug reporting (nothing goes to the exception
    handler for a failed handshake), also under ``python -X dev``; the debug-mode test
    turns debug on itself."""
    loop.set_debug(False)


@pytest.fixture(autouse=True)
def _no_resource_warnings(loop):
    """Fail a test that leaves a socket or transport to the garbage collector: the fd
    counts collect garbage first, which would otherwise hide such a leak."""
    with no_resource_warnings():
        yield
