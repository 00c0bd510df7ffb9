"""The app's OpenAPI document, made to say what the server really answers.

FastAPI documents every operation with parameters as answering ``422 HTTPValidationError``; this
server answers validation errors ``400`` in the family's envelope (api/errors.py), and so does every
other error. :func:`install` wraps ``app.openapi`` so the generated document is rewritten once,
structurally, from the families' envelopes (browserfleet/families.py, ``app.state.envelopes``):

* the default ``422`` goes (a route that really answers 422, e.g. a failed render, declares its own);
* ``400`` is added where a request can fail validation: a request body, or a parameter that may be
  missing or has constraints; ``413`` where there is a request body (api/body_limit.py); ``401``
  where an API key is required (the security schemes of api/deps.py);
* every 4xx/5xx response without a body gets the envelope model of its path's family — routes
  declare only the codes they answer (``responses={409: {"description": …}}``), the family decides
  the body.

What a route documents itself stays: request bodies it reads by hand (``openapi_extra``), binary
answers with their content types, security schemes (FastAPI ``Security`` dependencies).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from browserfleet.api.deps import API_KEY_SCHEMES
from browserfleet.api.errors import Envelopes, envelopes_of

REF = "#/components/schemas/{model}"
FASTAPI_VALIDATION = ("HTTPValidationError", "ValidationError")
METHODS = frozenset({"get", "put", "post", "delete", "patch", "head", "options", "trace"})
# schema keywords that accept any value of their type: a parameter with only these cannot fail
_FREE = frozenset({"type", "title", "description", "default", "anyOf", "examples"})
# (component, property) -> the values this server accepts there, e.g. its configured templates
Choices = Mapping[tuple[str, str], Sequence[object]]
_DESCRIPTIONS = {
    400: "Invalid request (validation: the message names the field)",
    401: "Missing or invalid API key",
    413: "The request body is larger than this route's limit",
}


def install(app: FastAPI, choices: Callable[[], Choices] = dict) -> None:
    """``app.openapi`` documents the families' envelopes (see the module) and the values only
    this server's configuration accepts (``choices``, asked at every call: what it knows may grow
    once the app has started); call after :func:`browserfleet.api.errors.install`."""
    generate: Callable[[], dict[str, Any]] = app.openapi
    done: list[dict[str, Any]] = []  # the schema last documented (FastAPI regenerates on new routes)

    def openapi() -> dict[str, Any]:
        schema = generate()
        if not done or done[0] is not schema:
            document(schema, envelopes_of(app))
            done[:] = [schema]
        enumerate_choices(schema, choices())
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def enumerate_choices(schema: dict[str, Any], choices: Choices) -> None:
    """Each ``(component, property)`` of ``choices`` documented as an ``enum`` of its values."""
    models = schema.get("components", {}).get("schemas", {})
    for (model, name), values in choices.items():
        models[model]["properties"][name]["enum"] = list(values)


def document(schema: dict[str, Any], envelopes: Envelopes) -> dict[str, Any]:
    """Rewrites ``schema`` (FastAPI's document) in place: see the module."""
    components = schema.setdefault("components", {})
    models = components.setdefault("schemas", {})
    for path, item in schema.get("paths", {}).items():
        ref = _model_ref(envelopes.for_path(path).model, models)
        for method, operation in item.items():
            if method in METHODS:
                _operation(operation, ref)
    _drop_unreferenced(schema, models, FASTAPI_VALIDATION)
    return schema


def _model_ref(model: type[BaseModel], models: dict[str, Any]) -> dict[str, str]:
    """``{"$ref": …}`` to ``model``, added to the components (with what it references)."""
    refs, definitions = models_json_schema([(model, "serialization")], ref_template=REF)
    for name, definition in definitions.get("$defs", {}).items():
        models.setdefault(name, definition)
    return dict(refs[(model, "serialization")])


def _operation(operation: dict[str, Any], ref: dict[str, str]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    default_422 = responses.get("422", {})
    if _references(default_422, FASTAPI_VALIDATION):
        del responses["422"]
    added: list[int] = []
    if "requestBody" in operation or any(_can_fail(p) for p in operation.get("parameters", ())):
        added.append(400)
    if "requestBody" in operation:
        added.append(413)
    if any(set(requirement) & API_KEY_SCHEMES for requirement in operation.get("security", ())):
        added.append(401)
    for status in added:
        responses.setdefault(str(status), {"description": _DESCRIPTIONS[status]})
    for code, response in responses.items():
        if code.isdigit() and int(code) >= 400:
            response.setdefault("description", HTTPStatus(int(code)).phrase)
            response.setdefault("content", {"application/json": {"schema": dict(ref)}})
    operation["responses"] = dict(sorted(responses.items()))


def _can_fail(parameter: dict[str, Any]) -> bool:
    """Whether validating ``parameter`` can refuse a request: a required one outside the path
    (it may be missing), or one whose schema constrains its value."""
    if parameter.get("in") != "path" and parameter.get("required"):
        return True
    return _constrained(parameter.get("schema", {}))


def _constrained(schema: dict[str, Any]) -> bool:
    if set(schema) - _FREE or schema.get("type", "string") not in ("string", "null"):
        return True
    return any(_constrained(option) for option in schema.get("anyOf", ()))


def _references(value: Any, names: tuple[str, ...]) -> bool:
    if isinstance(value, dict):
        ref = value.get("$ref")
        if isinstance(ref, str) and ref.rsplit("/", 1)[-1] in names:
            return True
        return any(_references(v, names) for v in value.values())
    if isinstance(value, list):
        return any(_references(v, names) for v in value)
    return False


def _drop_unreferenced(schema: dict[str, Any], models: dict[str, Any], names: tuple[str, ...]) -> None:
    for name in names:
        definition = models.pop(name, None)
        if definition is not None and _references(schema, (name,)):
            models[name] = definition  # still used by a route: keep it
