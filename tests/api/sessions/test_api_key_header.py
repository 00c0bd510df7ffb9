"""The Sessions family's 401 for a missing key names the header its clients send, ``X-BB-API-Key``
(the browserbase SDK's), in every envelope of the family; ``Authorization: Bearer`` still works."""

from __future__ import annotations

import httpx
import pytest
from browserbase import AuthenticationError, Browserbase

from tests.support.fleet import FleetHarness, RunningServer

pytestmark = pytest.mark.browser  # the shared server (its browser pool)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/sessions"),
        ("GET", "/v1/sessions/ses_x"),
        ("POST", "/v1/contexts"),
        ("GET", "/v1/projects"),
        ("POST", "/v1/fetch"),  # the fetch's envelope (plus an id)
        ("POST", "/v1/sessions/ses_x/uploads"),  # a node-local route
        ("GET", "/v1/sessions/ses_x/recording/downloads"),
        ("POST", "/v1/agents/runs"),  # Browserbase's agent runs
    ],
)
def test_a_missing_key_is_401_naming_x_bb_api_key(server: RunningServer, method: str, path: str) -> None:
    answer = httpx.request(method, f"{server.url}{path}", json={}, timeout=10)
    assert answer.status_code == 401, answer.text
    body = answer.json()
    assert body["statusCode"] == 401 and body["error"] == "Unauthorized"
    assert "X-BB-API-Key" in body["message"] and "Bearer" not in body["message"], body


def test_bearer_is_still_accepted_and_other_families_keep_their_wording(
    harness: FleetHarness, server: RunningServer
) -> None:
    key = harness.new_key(server)
    bearer = httpx.get(f"{server.url}/v1/sessions", headers={"Authorization": f"Bearer {key}"}, timeout=10)
    assert bearer.status_code == 200 and bearer.json() == []
    renders = httpx.get(f"{server.url}/v1/renders/r_x", timeout=10)  # browser7's clients send Bearer
    assert renders.status_code == 401 and "Authorization: Bearer" in renders.json()["message"]
    with pytest.raises(AuthenticationError):  # the SDK sends X-BB-API-Key: a wrong one is refused
        Browserbase(api_key="bf_wrong", base_url=server.url).sessions.list()
