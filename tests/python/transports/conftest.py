"""Fixtures for the transport tests (the ``loop`` fixture comes from tests/python)."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid

import pytest
from _transport_helpers import ipv6_available


@pytest.fixture
def short_tmp():
    """A short temporary directory: a Unix socket path must fit in 108 bytes."""
    path = tempfile.mkdtemp(prefix="ax-", dir="/tmp")
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def unix_path(short_tmp):
    """A path where a Unix socket can be bound (nothing there yet)."""
    return os.path.join(short_tmp, "s.sock")


@pytest.fixture
def abstract_name():
    """A Linux abstract socket name, unique to the test."""
    return "\0aioxide-test-" + uuid.uuid4().hex


@pytest.fixture
def ipv6():
    if not ipv6_available():
        pytest.skip("IPv6 loopback is not available")
