"""Reading a one-file upload: a ``multipart/form-data`` body with one part named ``file``
(``POST /v1/extensions``, ``POST /v1/sessions/{id}/uploads``).

A body whose ``Content-Length`` already says it is over the limit is refused (413) before it is
read; the caller checks the part's own size, which a chunked body does not announce.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request

from browserfleet.core.errors import InvalidRequest, PayloadTooLarge

MULTIPART_OVERHEAD = 64 * 1024  # the part's headers and boundaries on top of its bytes


def file_part_body(description: str) -> dict[str, Any]:
    """The request body :func:`file_part` reads, as an OpenAPI ``requestBody`` (a route's
    ``openapi_extra={"requestBody": …}``: it reads the body itself, so FastAPI cannot see it)."""
    file = {"type": "string", "format": "binary", "description": description}
    schema = {"type": "object", "properties": {"file": file}, "required": ["file"]}
    return {"required": True, "content": {"multipart/form-data": {"schema": schema}}}


@asynccontextmanager
async def file_part(request: Request, limit: int, *, too_large: str, what: str) -> AsyncIterator[UploadFile]:
    """The ``file`` part, open while the block runs: PayloadTooLarge(``too_large``) when the body
    is announced over ``limit`` bytes, InvalidRequest (naming ``what`` is expected) without it."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit + MULTIPART_OVERHEAD:
        raise PayloadTooLarge(too_large)
    async with request.form(max_files=1, max_fields=10) as form:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            message = f"Send {what} as multipart/form-data with one part named file"
            raise InvalidRequest(message, details=[{"field": "file", "message": message}])
        yield upload
