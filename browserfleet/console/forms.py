"""HTML forms made from the API's own request models, and their posts turned back into the JSON
body the model validates: the console offers every option the API has and refuses what it refuses.

A flat field (string, number, boolean, one of a few values) is an input; a list or an object is a
JSON text area. An empty input is left out of the body (the model's default applies).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData

from browserfleet.core.errors import InvalidRequest

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class FormField:
    name: str  # the wire name (the model's alias)
    kind: str  # text | number | checkbox | select | json
    required: bool
    default: Any = None
    options: tuple[str, ...] = ()
    description: str = ""

    @property
    def default_text(self) -> str:
        if self.default is None:
            return ""
        return json.dumps(self.default) if self.kind == "json" else str(self.default)


def fields_of(model: type[BaseModel], skip: Iterable[str] = ()) -> list[FormField]:
    """The model's fields as form fields, in declaration order (wire names)."""
    schema = model.model_json_schema(by_alias=True)
    required = set(schema.get("required", ()))
    skipped = set(skip)
    return [
        _field(name, prop, name in required, schema.get("$defs", {}))
        for name, prop in schema.get("properties", {}).items()
        if name not in skipped
    ]


def _field(name: str, prop: dict[str, Any], required: bool, defs: dict[str, Any]) -> FormField:
    options = [o for o in prop.get("anyOf", [prop]) if o.get("type") != "null"]
    one = options[0] if len(options) == 1 else {}
    if "$ref" in one:
        one = defs.get(one["$ref"].rsplit("/", 1)[-1], {})
    kind = _kind(one)
    enum = tuple(str(v) for v in one.get("enum", ()))
    if "const" in one:
        enum = (str(one["const"]),)
    return FormField(
        name=name,
        kind="select" if enum else kind,
        required=required,
        default=prop.get("default"),
        options=enum,
        description=str(prop.get("description", one.get("description", ""))),
    )


def _kind(one: dict[str, Any]) -> str:
    match one.get("type"):
        case "boolean":
            return "checkbox"
        case "integer" | "number":
            return "number"
        case "string":
            return "text"
    return "json"


def body_of(form: FormData, fields: Iterable[FormField]) -> dict[str, Any]:
    """The JSON body a post of the form stands for (InvalidRequest for JSON that does not parse)."""
    body: dict[str, Any] = {}
    for field in fields:
        raw = form.get(field.name)
        if field.kind == "checkbox":
            body[field.name] = raw is not None
            continue
        text = raw.strip() if isinstance(raw, str) else ""
        if not text:
            continue
        body[field.name] = _value(field, text)
    return body


def _value(field: FormField, text: str) -> Any:
    if field.kind == "number":
        try:
            return int(text) if text.lstrip("-").isdigit() else float(text)
        except ValueError:
            return text  # the model says what is wrong with it
    if field.kind == "json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidRequest(f"{field.name}: not valid JSON ({exc.msg})") from exc
    return text


def validated(model: type[M], body: dict[str, Any]) -> M:
    """``model`` from ``body``, or InvalidRequest naming each offending field (as the API's 400)."""
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        details = [
            {
                "field": ".".join(str(p) for p in e["loc"]),
                "message": str(e["msg"]).removeprefix("Value error, "),
            }
            for e in exc.errors()
        ]
        message = "; ".join(f"{d['field']}: {d['message']}" if d["field"] else d["message"] for d in details)
        raise InvalidRequest(message, details=details) from exc
