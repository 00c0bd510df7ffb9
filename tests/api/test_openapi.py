"""The OpenAPI document (``GET /openapi.json``) says what the server answers.

Read from a real server: no FastAPI ``422 HTTPValidationError``; every error response of an
operation is its family's envelope (browserfleet/families.py), and the envelopes' models describe
what the envelopes really send; security schemes are declared and applied (and an operation that
declares an API key refuses a request without one); uploads declare their bodies, binary answers
their content types, request models their constraints; and where Browserbase publishes the wire
format (shared/compat/browserbase-openapi.yaml) our schema agrees with it, field by field.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from pydantic import BaseModel

from browserfleet.api.automations.routes import automations_envelope
from browserfleet.api.browsing.routes import SyncWaitTimeout, browsing_envelope
from browserfleet.api.errors import Envelope, simple_envelope
from browserfleet.api.renders.schemas import http_url
from browserfleet.api.sessions.fetch import fetch_envelope
from browserfleet.api.sessions.routes import session_envelope
from browserfleet.core.errors import (
    BrowserfleetError,
    Conflict,
    InvalidRequest,
    NotFound,
    RateLimited,
    Unauthenticated,
    Unavailable,
)
from browserfleet.core.sessions import FetchError
from browserfleet.families import envelopes
from tests.support.fleet import RunningServer

# the shared folder sits next to the repository (CI has it at the same place)
BROWSERBASE_SPEC = Path(__file__).resolve().parents[3] / "shared" / "compat" / "browserbase-openapi.yaml"
METHODS = ("get", "put", "post", "delete", "patch")
PUBLIC = {  # operations without any credential
    ("get", "/health"),
    ("get", "/pressure"),
    ("get", "/metrics"),
    ("get", "/v1/regions"),
}
SIGNED_URL = {  # their credential is in the URL (a signature its parameters carry)
    ("get", "/v1/automations/files/{run_uid}/{name}"),
}
# Where our answer is a deliberate superset of Browserbase's: ``format: json`` (a browserfleet
# extension of /v1/fetch) answers the parsed body, so ``content`` may be any JSON value.
SUPERSET_FIELDS = {("post", "/v1/fetch", "content")}


@pytest.fixture(scope="module")
def spec(server: RunningServer) -> dict[str, Any]:
    response = httpx.get(f"{server.url}/openapi.json", timeout=30)
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


@pytest.fixture(scope="module")
def browserbase() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(BROWSERBASE_SPEC.read_text())
    return document


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in spec["paths"].items():
        for method in METHODS:
            if method in item:
                yield method, path, item[method]


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with its ``$ref`` and ``allOf`` resolved (one level of object: properties and
    required merged)."""
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = {
            **document["components"]["schemas"][name],
            **{k: v for k, v in schema.items() if k != "$ref"},
        }
    if "allOf" in schema:
        merged: dict[str, Any] = {"type": "object", "properties": {}, "required": []}
        for part in schema["allOf"]:
            resolved = resolve(document, part)
            merged["properties"].update(resolved.get("properties", {}))
            merged["required"] += resolved.get("required", [])
        return merged
    return schema


def types_of(document: dict[str, Any], schema: dict[str, Any]) -> set[str]:
    schema = resolve(document, schema)
    if "anyOf" in schema or "oneOf" in schema:
        return {t for option in schema.get("anyOf", schema.get("oneOf")) for t in types_of(document, option)}
    if "type" in schema:
        return {schema["type"]} if isinstance(schema["type"], str) else set(schema["type"])
    return {"object"} if "properties" in schema else {"any"}


def normalised(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


def json_schema(response: dict[str, Any]) -> dict[str, Any] | None:
    content = response.get("content", {})
    media = content.get("application/json")
    return None if media is None else media.get("schema")


# ---------------------------------------------------------------------------- errors
def test_no_fastapi_validation_error_anywhere(spec: dict[str, Any]) -> None:
    text = json.dumps(spec)
    assert "HTTPValidationError" not in text and '"ValidationError"' not in text
    answering_422 = [(m, p) for m, p, op in operations(spec) if "422" in op["responses"]]
    assert answering_422 == [("get", "/v1/renders/{render_id}")]  # a failed render, really sent
    failed = spec["paths"]["/v1/renders/{render_id}"]["get"]["responses"]["422"]
    assert json_schema(failed) == {"$ref": "#/components/schemas/RenderFailed"}


def test_every_error_response_is_the_family_envelope(spec: dict[str, Any]) -> None:
    table = envelopes()
    for method, path, operation in operations(spec):
        expected = {"$ref": f"#/components/schemas/{table.for_path(path).model.__name__}"}
        errors = {code: r for code, r in operation["responses"].items() if int(code) >= 400 and code != "422"}
        for code, response in errors.items():
            assert json_schema(response) == expected, (method, path, code)
            assert response["description"], (method, path, code)
        assert any(code.startswith("2") for code in operation["responses"]), (method, path)
    models = spec["components"]["schemas"]
    assert set(models["SessionError"]["required"]) == {"statusCode", "error", "message"}
    assert set(models["SessionFetchError"]["required"]) == {"statusCode", "error", "message", "id"}
    assert set(models["SimpleError"]["required"]) == {"error", "message"}
    assert set(models["AutomationsError"]["required"]) == {"message"}
    assert set(models["BrowsingError"]["required"]) == {"error"}


def test_validation_body_limit_and_auth_answers_are_documented(spec: dict[str, Any]) -> None:
    for method, path, operation in operations(spec):
        codes = set(operation["responses"])
        if "requestBody" in operation:
            assert {"400", "413"} <= codes, (method, path)
        if any("BearerAuth" in r or "BrowserbaseAuth" in r for r in operation.get("security", [])):
            assert "401" in codes, (method, path)
    # what routes answer beyond validation and auth, read from their code
    answers = {
        ("post", "/v1/renders"): {"402", "429", "503"},
        ("get", "/v1/renders/{render_id}"): {"404", "422"},
        ("post", "/v1/sessions"): {"409", "429", "503"},
        ("get", "/v1/sessions/{session_id}"): {"404"},
        ("post", "/v1/sessions/{session_id}/uploads"): {"404", "409", "413", "503"},
        ("get", "/v1/sessions/{session_id}/debug"): {"404", "409", "503"},
        ("get", "/v1/sessions/{session_id}/recording/downloads"): {"404", "409"},
        ("put", "/v1/contexts/{context_id}/upload"): {"403", "413"},
        ("post", "/v1/fetch"): {"429", "502", "504"},
        ("post", "/v1/search"): {"502", "503"},
        ("post", "/v1/tasks/{task_uid}/runs"): {"402", "404", "429"},
        ("post", "/api/v1/browsing/sync"): {"402", "429", "503", "504"},
        ("get", "/v1/nodes"): {"401", "403"},
    }
    for (method, path), codes in answers.items():
        assert codes <= set(spec["paths"][path][method]["responses"]), (method, path)
    # a GET whose only parameter is a plain path id cannot fail validation: no 400
    assert "400" not in spec["paths"]["/v1/sessions/{session_id}"]["get"]["responses"]


@pytest.mark.parametrize(
    ("answer", "errors"),
    [
        (simple_envelope, [InvalidRequest("bad", details=[{"field": "url", "message": "bad"}])]),
        (session_envelope, [NotFound("gone"), Conflict("busy"), RateLimited("full", limit=1, in_use=1)]),
        (fetch_envelope, [FetchError(502, "Bad Gateway", "too large", "fet_1"), Unavailable("later")]),
        (automations_envelope, [InvalidRequest("bad", details=[{"field": "x", "message": "y"}])]),
        (browsing_envelope, [Unauthenticated("who"), SyncWaitTimeout("late", "brw_1")]),
    ],
)
def test_the_envelope_models_describe_what_the_envelopes_send(
    answer: Envelope, errors: list[BrowserfleetError]
) -> None:
    model: type[BaseModel] = answer.model
    for error in [*errors, BrowserfleetError("Internal server error")]:
        response = answer(error)
        assert response.status_code == error.status
        model.model_validate_json(response.body)  # extra="forbid": no field the model lacks


# ---------------------------------------------------------------------------- security
def test_security_schemes_are_declared(spec: dict[str, Any]) -> None:
    schemes = spec["components"]["securitySchemes"]
    assert schemes["BearerAuth"] == {**schemes["BearerAuth"], "type": "http", "scheme": "bearer"}
    for name, location, parameter in [
        ("BrowserbaseAuth", "header", "X-BB-API-Key"),
        ("SigningKey", "query", "signingKey"),
        ("SigningKeyHeader", "header", "x-bb-signing-key"),
        ("LiveToken", "query", "token"),
        ("ContextUploadToken", "query", "token"),
    ]:
        assert (schemes[name]["type"], schemes[name]["in"], schemes[name]["name"]) == (
            "apiKey",
            location,
            parameter,
        ), name
    assert schemes["AdminKey"]["scheme"] == "bearer"
    assert all(scheme.get("description") for scheme in schemes.values())


def test_the_node_local_router_declares_the_same_api_key_schemes() -> None:
    """node/session/routes/deps.py cannot import api/deps.py: its copies must stay identical (the
    document keeps one scheme per name)."""
    from browserfleet.api import deps as api_deps
    from browserfleet.node.session.routes import deps as node_deps

    for name in ("BEARER", "BB_API_KEY"):
        ours, theirs = getattr(api_deps, name), getattr(node_deps, name)
        assert (ours.scheme_name, ours.model) == (theirs.scheme_name, theirs.model), name


def test_security_is_applied_per_family(spec: dict[str, Any]) -> None:
    for method, path, operation in operations(spec):
        requirements = [name for requirement in operation.get("security", []) for name in requirement]
        if (method, path) in PUBLIC | SIGNED_URL:
            assert not requirements, (method, path)
            continue
        assert requirements, (method, path)
        if path.endswith(("/live", "/connect/json/version")):
            assert {"SigningKey", "SigningKeyHeader", "LiveToken"} <= set(requirements), path
        elif path == "/v1/contexts/{context_id}/upload":
            assert requirements == ["ContextUploadToken"]
        elif path == "/v1/nodes":
            assert requirements == ["AdminKey"]
        else:  # a project's API key, in either header (core/accounts.py api_key_of)
            assert {"BearerAuth", "BrowserbaseAuth"} <= set(requirements), (method, path)
    download = spec["paths"]["/v1/sessions/{session_id}/recording/downloads/{name}"]["get"]
    assert {} in download["security"]  # the signed downloadUrl needs no key


def test_operations_declaring_an_api_key_refuse_a_request_without_one(
    spec: dict[str, Any], server: RunningServer
) -> None:
    checked = 0
    with httpx.Client(base_url=server.url, timeout=30) as http:
        for method, path, operation in operations(spec):
            requirements = operation.get("security", [])
            if method != "get" or not requirements or {} in requirements:
                continue
            if not any("BearerAuth" in r for r in requirements):
                continue
            url = re.sub(r"\{[^}]+\}", "x", path)
            params = {p["name"]: "1" for p in operation.get("parameters", []) if p["in"] == "query"}
            response = http.get(url, params=params)
            assert response.status_code == 401, (path, response.text)
            schema = resolve(spec, json_schema(operation["responses"]["401"]) or {})
            assert set(schema["required"]) <= set(response.json()), (path, response.text)
            checked += 1
    assert checked >= 20


# ---------------------------------------------------------------------------- bodies and content types
def test_upload_bodies_are_declared(spec: dict[str, Any]) -> None:
    for path in ("/v1/extensions", "/v1/sessions/{session_id}/uploads"):
        body = spec["paths"][path]["post"]["requestBody"]
        schema = body["content"]["multipart/form-data"]["schema"]
        assert body["required"] and schema["required"] == ["file"], path
        assert schema["properties"]["file"]["format"] == "binary", path
    upload = spec["paths"]["/v1/contexts/{context_id}/upload"]["put"]["requestBody"]
    assert (
        upload["required"] and upload["content"]["application/octet-stream"]["schema"]["format"] == "binary"
    )
    create = spec["paths"]["/v1/contexts"]["post"]["requestBody"]
    assert set(create["content"]["application/json"]["schema"]["properties"]) == {"name", "projectId"}


def test_binary_answers_declare_their_content_types(spec: dict[str, Any]) -> None:
    expected = {
        ("get", "/v1/sessions/{session_id}/downloads"): "application/zip",
        ("get", "/v1/sessions/{session_id}/recording/downloads/{name}"): "video/mp4",
        ("get", "/api/v1/browsing/screenshots/{task_id}/{file}"): "image/png",
        ("get", "/v1/automations/files/{run_uid}/{name}"): "*/*",
        ("get", "/metrics"): "text/plain",
        ("get", "/v1/sessions/{session_id}/live"): "text/html",
    }
    for (method, path), media in expected.items():
        content = spec["paths"][path][method]["responses"]["200"]["content"]
        assert list(content) == [media], (path, content)
        if media not in ("text/plain", "text/html"):
            assert content[media]["schema"] == {"type": "string", "format": "binary"}, path


def test_json_answers_have_schemas(spec: dict[str, Any]) -> None:
    for method, path, operation in operations(spec):
        for code, response in operation["responses"].items():
            schema = json_schema(response)
            if schema is not None:
                assert schema != {}, (method, path, code)
    sessions = "/v1/sessions/{session_id}"
    for path, name in [
        (f"{sessions}/logs", "SessionLog"),
        (f"{sessions}/recording", "SessionRecording"),
    ]:
        schema = json_schema(spec["paths"][path]["get"]["responses"]["200"]) or {}
        assert schema["items"] == {"$ref": f"#/components/schemas/{name}"}, path
    for method, path, name in [
        ("get", f"{sessions}/debug", "SessionLiveUrls"),
        ("post", f"{sessions}/uploads", "UploadedFile"),
        ("get", f"{sessions}/recording/downloads", "RecordingDownloads"),
        ("post", f"{sessions}/recording/downloads", "RecordingDownloads"),
    ]:
        schema = json_schema(spec["paths"][path][method]["responses"]["200"])
        assert schema == {"$ref": f"#/components/schemas/{name}"}, path


# ---------------------------------------------------------------------------- constraints
def test_session_timeout_is_60_to_21600(spec: dict[str, Any]) -> None:
    timeout = spec["components"]["schemas"]["CreateSessionRequest"]["properties"]["timeout"]
    integer = next(option for option in timeout["anyOf"] if option["type"] == "integer")
    assert (integer["minimum"], integer["maximum"]) == (60, 21600)


def test_urls_must_be_http_or_https(spec: dict[str, Any]) -> None:
    models = spec["components"]["schemas"]
    render = models["CreateRenderRequest"]["properties"]
    fetch = models["FetchRequest"]["properties"]
    for schema in (render["url"], render["fetchUrls"]["items"], fetch["url"]):
        assert schema["type"] == "string" and schema["format"] == "uri"
        pattern = re.compile(schema["pattern"])
        assert pattern.match("https://example.com/") and pattern.match("HTTP://example.com")
        assert not pattern.match("ftp://example.com") and not pattern.match("example.com")
        assert not pattern.match("javascript:alert(1)") and not pattern.match("http://")
    pattern = re.compile(render["url"]["pattern"])  # and what the render's own check says
    for url in ("https://a.example/", " http://b.example", "ftp://c.example", "d.example", "http://"):
        try:
            http_url(url)
            accepted = True
        except ValueError:
            accepted = False
        assert bool(pattern.match(url)) == accepted, url


# ---------------------------------------------------------------------------- Browserbase's spec
def spec_operations(browserbase: dict[str, Any], spec: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    ours = {normalised(path): path for path in spec["paths"]}
    for method, path, _ in operations(browserbase):
        assert normalised(path) in ours, f"{method} {path} is not served"
        yield method, path, ours[normalised(path)]


def assert_same_schema(
    theirs: dict[str, Any],
    ours: dict[str, Any],
    docs: tuple[dict[str, Any], dict[str, Any]],
    where: str,
    *,
    response: bool,
) -> None:
    """Every field Browserbase declares is ours, of the same type, required alike; a response
    field is never nullable where theirs is not."""
    bb, us = docs
    theirs, ours = resolve(bb, theirs), resolve(us, ours)
    their_types, our_types = types_of(bb, theirs), types_of(us, ours)
    if any(where.endswith(f"{method} {path}.{field}") for method, path, field in SUPERSET_FIELDS):
        assert their_types <= our_types, where
        return
    if response and "null" not in their_types:
        assert "null" not in our_types, f"{where}: null"
    assert their_types == our_types - {"null"}, f"{where}: {their_types} vs {our_types}"
    if "enum" in theirs:
        assert set(theirs["enum"]) <= set(resolve(us, ours).get("enum", theirs["enum"])), where
    options = [o for o in ours.get("anyOf", []) if o.get("type") != "null"]
    if len(options) == 1:  # an optional request field: ``X | None``
        ours = resolve(us, options[0])
    if their_types == {"object"} and theirs.get("properties"):
        assert "properties" in ours, where
        missing = set(theirs["properties"]) - set(ours["properties"])
        assert not missing, f"{where}: missing {missing}"
        their_required, our_required = set(theirs.get("required", [])), set(ours.get("required", []))
        if response:  # what they promise, we send
            assert their_required <= our_required, f"{where}: {their_required - our_required} optional"
        else:  # we require nothing they leave optional
            assert our_required <= their_required, f"{where}: requires {our_required - their_required}"
        for name, field in theirs["properties"].items():
            assert_same_schema(field, ours["properties"][name], docs, f"{where}.{name}", response=response)
    if their_types == {"array"}:
        assert_same_schema(theirs["items"], ours["items"], docs, f"{where}[]", response=response)


def test_browserbase_operations_agree_with_the_published_spec(
    spec: dict[str, Any], browserbase: dict[str, Any]
) -> None:
    docs = (browserbase, spec)
    for method, their_path, our_path in spec_operations(browserbase, spec):
        theirs, ours = browserbase["paths"][their_path][method], spec["paths"][our_path][method]
        where = f"{method} {our_path}"
        if "requestBody" in theirs:
            assert "requestBody" in ours, where
            for media, content in theirs["requestBody"]["content"].items():
                assert media in ours["requestBody"]["content"], f"{where}: {media}"
                our_schema = ours["requestBody"]["content"][media]["schema"]
                assert_same_schema(content["schema"], our_schema, docs, where, response=False)
        for parameter in theirs.get("parameters", []):
            if parameter["in"] == "query":
                assert parameter["name"] in {p["name"] for p in ours.get("parameters", [])}, where
        for code, response in theirs["responses"].items():
            assert code in ours["responses"], f"{where}: {code}"
            for media, content in response.get("content", {}).items():
                assert media in ours["responses"][code]["content"], f"{where} {code}: {media}"
                our_schema = ours["responses"][code]["content"][media]["schema"]
                assert_same_schema(content["schema"], our_schema, docs, f"{where}", response=True)
    scheme = spec["components"]["securitySchemes"]["BrowserbaseAuth"]
    assert {k: scheme[k] for k in ("type", "in", "name")} == {
        k: browserbase["components"]["securitySchemes"]["BrowserbaseAuth"][k] for k in ("type", "in", "name")
    }


def test_session_fields_match_browserbase_exactly(spec: dict[str, Any], browserbase: dict[str, Any]) -> None:
    """The Session object: same names, types and required fields (status adds PENDING, which a
    session reads while its browser starts)."""
    theirs = browserbase["components"]["schemas"]["Session"]
    for name in ("SessionModel", "SessionWithConnect", "CreatedSession"):
        ours = spec["components"]["schemas"][name]
        assert set(theirs["properties"]) <= set(ours["properties"]), name
        assert set(ours["required"]) & set(theirs["properties"]) == set(theirs["required"]), name
        for field, schema in theirs["properties"].items():
            our_field = ours["properties"][field]
            assert types_of(browserbase, schema) == types_of(spec, our_field), (name, field)
            assert schema.get("format") == our_field.get("format"), (name, field)
    assert set(theirs["properties"]["status"]["enum"]) | {"PENDING"} == set(
        spec["components"]["schemas"]["SessionModel"]["properties"]["status"]["enum"]
    )
