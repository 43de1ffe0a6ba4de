"""Fixtures for the transport tests (the ``loop`` fixture comes from tests/python)."""

from __future__ import annotations

import uuid

import pytest
from _transport_helpers import ipv6_available


@pytest.fixture
def abstract_name():
    """A Linux abstract socket name, unique to the test."""
    return "\0aioxide-test-" + uuid.uuid4().hex


@pytest.fixture
def ipv6():
    if not ipv6_available():
        pytest.skip("IPv6 loopback is not available")
