"""Sessions API fixtures: a server of the module's own, a fresh project key, the SDK client.

A module that needs its own server (short grace periods, fewer slots, lower limits, a solver or an
exit proxy) says how it differs from the default one with a module-scoped ``server_settings``
fixture; ``sserver`` is then started once for that module and stopped after its last test::

    @pytest.fixture(scope="module")
    def server_settings() -> dict[str, object]:
        return {"session_grace_s": 1.0, "session_slots": 4}

To adjust the running server too, override ``sserver`` in the module, taking the conftest's one as
an argument (``def sserver(sserver: RunningServer) -> RunningServer``). Modules whose tests use the
shared default server (``server`` / ``api_key``) need none of this.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from browserbase import Browserbase

from tests.support.fleet import FleetHarness, RunningServer


@pytest.fixture(scope="module")
def sserver(harness: FleetHarness, server_settings: dict[str, object]) -> Iterator[RunningServer]:
    """The module's own server, with its ``server_settings``."""
    running = harness.server(**server_settings)
    yield running
    harness.stop_server(running)


@pytest.fixture
def key(harness: FleetHarness, sserver: RunningServer) -> str:
    """A key for a fresh project on the module's server."""
    return harness.new_key(sserver)


@pytest.fixture
def client(sserver: RunningServer, key: str) -> Browserbase:
    """The official SDK on the module's server, with ``key``."""
    return Browserbase(api_key=key, base_url=sserver.url)
