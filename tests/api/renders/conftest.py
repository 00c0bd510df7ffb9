"""Renders API fixtures: the server a module renders on, a fresh project key, the browser7 SDK.

``rserver`` is the shared default server; a module that needs a server of its own (a captcha
solver, geo proxies) overrides ``rserver`` with a module-scoped fixture, and ``key`` and ``client``
follow it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from browser7 import Browser7

from tests.support.fleet import FleetHarness, RunningServer


@pytest.fixture(scope="module")
def rserver(server: RunningServer) -> RunningServer:
    """The server this module's renders go to."""
    return server


@pytest.fixture
def key(harness: FleetHarness, rserver: RunningServer) -> str:
    """A key for a fresh project on ``rserver``."""
    return harness.new_key(rserver)


@pytest.fixture
def client(rserver: RunningServer, key: str) -> Iterator[Browser7]:
    """The official browser7 SDK on ``rserver``, with ``key``."""
    with Browser7(api_key=key, base_url=rserver.api) as sdk:
        yield sdk
