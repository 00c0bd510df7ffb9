"""Helpers for error-path tests of the Renders API: the error envelope and counting renders.

Every non-2xx answer of the Renders family is ``{"error": "<short type>", "message": "<detail>"}``
plus ``details`` (a list of ``{"field", "message"}``) on validation errors; a failed render's 422
is the render body instead (see :func:`failed_render`).
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any

import httpx

from tests.support.fleet import FleetHarness, RunningServer

FAILED_RENDER_KEYS = {
    "status",
    "errorCode",
    "errorMessage",
    "billable",
    "charged",
    "chargedAmountCents",
    "retryAfter",
}


def assert_envelope(response: httpx.Response, status: int, error: str) -> dict[str, Any]:
    """``response`` is ``status`` with the ``{"error", "message", "details"?}`` body; the body."""
    assert response.status_code == status, f"{response.status_code} {response.text}"
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body: dict[str, Any] = response.json()
    assert isinstance(body, dict), body
    assert {"error", "message"} <= set(body) <= {"error", "message", "details"}, body
    assert body["error"] == error, body
    assert isinstance(body["message"], str) and body["message"].strip(), body
    if "details" in body:
        assert isinstance(body["details"], list) and body["details"], body
        for entry in body["details"]:
            assert set(entry) == {"field", "message"}, entry
            assert entry["field"] and entry["message"], entry
    return body


def detail_for(details: list[dict[str, str]] | None, field_pattern: str) -> dict[str, str]:
    """The ``details`` entry whose ``field`` matches the glob ``field_pattern`` (it must exist)."""
    assert details, f"no details, expected a field matching {field_pattern!r}"
    matches = [d for d in details if fnmatchcase(d["field"], field_pattern)]
    assert matches, f"no detail for {field_pattern!r} in {details}"
    return matches[0]


def failed_render(response: httpx.Response, error_code: str) -> dict[str, Any]:
    """``response`` is the 422 of a render that failed with ``error_code``; the body."""
    assert response.status_code == 422, f"{response.status_code} {response.text}"
    body: dict[str, Any] = response.json()
    assert set(body) >= FAILED_RENDER_KEYS, body
    assert body["status"] == "failed", body
    assert body["errorCode"] == error_code, body
    assert isinstance(body["errorMessage"], str) and body["errorMessage"], body
    return body


def total_renders(harness: FleetHarness, server: RunningServer) -> int:
    """How many jobs the server's store holds, in any state and for any project."""
    return sum(harness.run(server.fleet.store.count_by_state()).values())


def project_id(harness: FleetHarness, server: RunningServer, key: str) -> str:
    """The id of the project ``key`` belongs to."""
    return harness.run(server.fleet.accounts.authenticate(key)).id
