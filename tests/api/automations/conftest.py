"""Automations API fixtures: the server a module runs automations on, a fresh project key, and the
API client (tests/support/automations.py).

``aserver`` is the shared default server; a module that needs a server of its own (other limits)
overrides ``aserver`` with a module-scoped fixture, and ``key`` and ``client`` follow it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.automations import Automations
from tests.support.fleet import FleetHarness, RunningServer


@pytest.fixture(scope="module")
def aserver(server: RunningServer) -> RunningServer:
    """The server this module's automations run on."""
    return server


@pytest.fixture
def key(harness: FleetHarness, aserver: RunningServer) -> str:
    """A key for a fresh project on ``aserver``."""
    return harness.new_key(aserver)


@pytest.fixture
def client(aserver: RunningServer, key: str) -> Iterator[Automations]:
    """An Automations API client on ``aserver``, with ``key``."""
    automations = Automations(aserver, key)
    yield automations
    automations.close()
