"""The Sessions family's wire models (Browserbase's): how an optional field goes on the wire.

Browserbase's OpenAPI types an optional field as a plain string, integer or object — never
``nullable`` — so a field without a value is left out of the answer, not sent as ``null`` (strict
and generated clients, TypeScript or Go, refuse the ``null``). :func:`omitted` declares such a field
for the control plane's models (api/sessions/) and the node-local router's (node/session/routes/).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

URI: dict[str, Any] = {"format": "uri"}


def _absent(value: object) -> bool:
    return value is None


def omitted(alias: str | None = None, *, description: str | None = None, **schema: Any) -> Any:
    """An optional response field, left out when it is ``None``. Type it ``X | SkipJsonSchema[None]``
    so its schema says ``X``, not nullable; ``schema`` adds to it (e.g. ``format="uri"``)."""

    def shape(field_schema: dict[str, Any]) -> None:
        field_schema.pop("default", None)  # no "default: null" on a plain string or object
        field_schema.update(schema)

    return Field(
        default=None, alias=alias, description=description, exclude_if=_absent, json_schema_extra=shape
    )
