"""Real answers of the Sessions family validate against Browserbase's published OpenAPI
(shared/compat/browserbase-openapi.yaml), and against ours (``/openapi.json``).

Browserbase types ``contextId``, ``endedAt``, ``userMetadata``, ``connectUrl``,
``seleniumRemoteUrl`` and ``signingKey`` as plain strings and objects, never ``null``: a field
without a value is left out. A session is created without a context or metadata, driven over CDP
(so it has logs and a page), then released, and every body on the way is checked.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema_rs
import pytest
import yaml
from playwright.sync_api import sync_playwright

from tests.support.fleet import RunningServer
from tests.support.sessions import wait_status

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("sessions")]
# the shared folder sits next to the repository (CI has it at the same place)
SPEC = Path(__file__).resolve().parents[4] / "shared" / "compat" / "browserbase-openapi.yaml"
NO_VALUE = {"contextId", "endedAt", "userMetadata"}
WHILE_RUNNING = {"connectUrl", "seleniumRemoteUrl", "signingKey"}


@pytest.fixture(scope="module")
def server_settings() -> dict[str, object]:
    return {"session_grace_s": 1.0, "session_slots": 2}


@pytest.fixture(scope="module")
def browserbase() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(SPEC.read_text())
    return document


@pytest.fixture(scope="module")
def ours(sserver: RunningServer) -> dict[str, Any]:
    document: dict[str, Any] = httpx.get(f"{sserver.url}/openapi.json", timeout=30).json()
    return document


@pytest.fixture
def http(sserver: RunningServer, key: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sserver.url, headers={"X-BB-API-Key": key}, timeout=30) as client:
        yield client


def check(document: dict[str, Any], path: str, method: str, status: int, body: Any) -> None:
    """``body`` is valid for the JSON schema ``document`` gives that answer."""
    operation = document["paths"][path][method]
    schema = operation["responses"][str(status)]["content"]["application/json"]["schema"]
    validator = jsonschema_rs.validator_for(
        {**schema, "components": document["components"]}, validate_formats=True
    )
    errors = [str(e) for e in validator.iter_errors(body)]
    assert not errors, (method, path, status, errors, body)


def both(bb: dict[str, Any], ours: dict[str, Any], method: str, path: str, status: int, body: Any) -> None:
    check(bb, path.replace("{session_id}", "{id}"), method, status, body)
    check(ours, path, method, status, body)


def no_nulls(value: Any, where: str = "body") -> None:
    if isinstance(value, dict):
        for name, item in value.items():
            assert item is not None, f"{where}.{name} is null"
            no_nulls(item, f"{where}.{name}")
    elif isinstance(value, list):
        for n, item in enumerate(value):
            no_nulls(item, f"{where}[{n}]")


def test_session_bodies_conform_from_create_to_end(
    sserver: RunningServer,
    key: str,
    http: httpx.Client,
    browserbase: dict[str, Any],
    ours: dict[str, Any],
    site_url: str,
) -> None:
    created = http.post("/v1/sessions", json={})
    assert created.status_code == 201, created.text
    session = created.json()
    both(browserbase, ours, "post", "/v1/sessions", 201, session)
    no_nulls(session)
    assert not NO_VALUE & set(session), session  # omitted, not null
    assert set(session) >= WHILE_RUNNING
    session_id = session["id"]
    path = "/v1/sessions/{session_id}"

    running = http.get(f"/v1/sessions/{session_id}").json()
    both(browserbase, ours, "get", path, 200, running)
    assert set(running) >= WHILE_RUNNING and not NO_VALUE & set(running)

    with sync_playwright() as pw:  # a client's CDP traffic: logs, a page for /debug
        browser = pw.chromium.connect_over_cdp(session["connectUrl"], timeout=15000)
        try:
            page = browser.contexts[0].new_page()
            page.goto(f"{site_url}/")
            debug = http.get(f"/v1/sessions/{session_id}/debug")
            assert debug.status_code == 200, debug.text
            both(browserbase, ours, "get", f"{path}/debug", 200, debug.json())
            assert debug.json()["pages"]
        finally:
            browser.close()

    listed = http.get("/v1/sessions").json()
    both(browserbase, ours, "get", "/v1/sessions", 200, listed)
    no_nulls(listed)

    released = http.post(f"/v1/sessions/{session_id}", json={"status": "REQUEST_RELEASE"})
    assert released.status_code == 200, released.text
    both(browserbase, ours, "post", path, 200, released.json())
    no_nulls(released.json())

    ended = wait_status(sserver, key, session_id, {"COMPLETED"})
    both(browserbase, ours, "get", path, 200, ended)
    no_nulls(ended)
    assert "endedAt" in ended and not WHILE_RUNNING & set(ended), ended  # nothing to connect to

    logs = http.get(f"/v1/sessions/{session_id}/logs").json()
    assert logs, "the client's CDP commands are logged"
    both(browserbase, ours, "get", f"{path}/logs", 200, logs)
    recording = http.get(f"/v1/sessions/{session_id}/recording").json()
    both(browserbase, ours, "get", f"{path}/recording", 200, recording)
    downloads = http.get(f"/v1/sessions/{session_id}/downloads")
    assert downloads.headers["content-type"] == "application/zip"


def test_metadata_and_context_are_sent_when_they_have_a_value(
    sserver: RunningServer, key: str, http: httpx.Client, browserbase: dict[str, Any], ours: dict[str, Any]
) -> None:
    context = http.post("/v1/contexts", json={})
    assert context.status_code == 201, context.text
    check(browserbase, "/v1/contexts", "post", 201, context.json())
    body = {"userMetadata": {"k": "v"}, "browserSettings": {"context": {"id": context.json()["id"]}}}
    created = http.post("/v1/sessions", json=body)
    assert created.status_code == 201, created.text
    session = created.json()
    both(browserbase, ours, "post", "/v1/sessions", 201, session)
    assert (session["userMetadata"], session["contextId"]) == ({"k": "v"}, context.json()["id"])
    released = http.post(f"/v1/sessions/{session['id']}", json={"status": "REQUEST_RELEASE"})
    assert released.status_code == 200
    wait_status(sserver, key, session["id"], {"COMPLETED"})
    got = http.get(f"/v1/contexts/{context.json()['id']}")
    check(browserbase, "/v1/contexts/{id}", "get", 200, got.json())
    no_nulls(got.json())


def test_error_bodies_are_the_documented_envelope(http: httpx.Client, ours: dict[str, Any]) -> None:
    missing = http.get("/v1/sessions/ses_nope")
    assert missing.status_code == 404
    check(ours, "/v1/sessions/{session_id}", "get", 404, missing.json())
    invalid = http.post("/v1/sessions", json={"timeout": 30})
    assert invalid.status_code == 400
    check(ours, "/v1/sessions", "post", 400, invalid.json())
    fetch = http.post("/v1/fetch", json={"url": "ftp://example.com"})
    assert fetch.status_code == 400
    check(ours, "/v1/fetch", "post", 400, fetch.json())
