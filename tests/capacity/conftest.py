"""Capacity and backpressure fixtures: a module's own server, and small readers of its figures.

Like tests/api/sessions/, a module says how its server differs from the default one with a
module-scoped ``server_settings`` fixture (``{}``: the default server, as ``make serve`` runs it).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import websockets.sync.client as ws_client

from tests.support.fleet import FleetHarness, RunningServer


@pytest.fixture(scope="module")
def cserver(harness: FleetHarness, server_settings: dict[str, object]) -> Iterator[RunningServer]:
    """The module's own server, with its ``server_settings``."""
    running = harness.server(**server_settings)
    yield running
    harness.stop_server(running)


def pressure(server: RunningServer) -> dict[str, Any]:
    response = httpx.get(f"{server.url}/pressure", timeout=10)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def cdp_product(connect_url: str) -> str:
    """Open the session's CDP WebSocket, ask ``Browser.getVersion``; the browser's product."""
    with ws_client.connect(connect_url, max_size=None, open_timeout=30) as ws:
        ws.send(json.dumps({"id": 1, "method": "Browser.getVersion"}))
        while True:
            reply = json.loads(ws.recv(timeout=30))
            if reply.get("id") == 1:
                return str(reply["result"]["product"])


def wait_for(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)
