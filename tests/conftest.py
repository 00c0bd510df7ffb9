"""Shared pytest configuration for the browserfleet test suite.

Fixtures: throwaway servers (tests/support/fixtures.py), the local test site
(tests/site/fixtures.py), and real browserfleet servers sharing one browser pool (below).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.fleet import FleetHarness, RunningServer

pytest_plugins = ["tests.support.fixtures", "tests.site.fixtures"]


@pytest.fixture(scope="session")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FleetHarness]:
    """One event loop thread and one warm browser pool for the whole session (per worker)."""
    fleet_harness = FleetHarness(tmp_path_factory.mktemp("fleet"))
    yield fleet_harness
    fleet_harness.close()


@pytest.fixture(scope="session")
def server(harness: FleetHarness) -> RunningServer:
    """The default server: embedded mode, the test site on 127.0.0.1 allowed by the egress policy."""
    return harness.server()


@pytest.fixture
def api_key(harness: FleetHarness, server: RunningServer) -> str:
    """A key for a fresh project on the default server (its own balance and limits)."""
    return harness.new_key(server)
