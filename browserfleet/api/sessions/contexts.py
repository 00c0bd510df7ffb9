"""Routes of contexts (saved browser profiles, browserbase-compatible; docs/contexts.md).

``POST /v1/contexts`` (201), ``GET``/``PUT``/``DELETE /v1/contexts/{id}``, and the upload target
``PUT|POST /v1/contexts/{id}/upload?token=…`` — the ``uploadUrl`` of the create/PUT answer, which
needs no API key (the token is a single-purpose, expiring credential, like a presigned URL).
Errors use the Sessions envelope ``{statusCode, error, message}``.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Request, Response, Security
from fastapi.security import APIKeyQuery
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.json_schema import SkipJsonSchema

from browserfleet.api.deps import FleetDep, ProjectDep
from browserfleet.core.errors import InvalidRequest, NotFound, PayloadTooLarge
from browserfleet.core.public_base import client_base
from browserfleet.core.sessions.contexts import CIPHER_ALGORITHM, IV_BYTES, UploadGrant
from browserfleet.core.sessions.wire import URI, omitted
from browserfleet.store.records import ContextRecord

router = APIRouter(prefix="/v1", tags=["contexts"])
UPLOAD_OVERHEAD = 256 + IV_BYTES + 16  # RSA-wrapped key, IV, at most one block of padding
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such context (or another project's)"}}
UPLOAD_TOKEN = APIKeyQuery(
    name="token",
    scheme_name="ContextUploadToken",
    auto_error=False,
    description="The single-purpose, expiring token of the context's uploadUrl (no API key)",
)
UPLOAD_ANSWERS: dict[int | str, dict[str, Any]] = {
    400: {"description": "The body does not decrypt, or is not a valid profile archive"},
    403: {"description": "The upload token is invalid or expired"},
    404: {"description": "The context was deleted"},
    413: {"description": "The upload is larger than context_max_bytes"},
}
ENCRYPTED_ARCHIVE = {
    "type": "string",
    "format": "binary",
    "description": "RSA-OAEP-SHA256(AES key) || IV || AES-256-CBC(user-data-dir archive): docs/contexts.md",
}


class CreateContextRequest(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    name: str | None = Field(default=None, max_length=200)
    project_id: str | None = Field(default=None, alias="projectId")


class ContextModel(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    id: str
    created_at: datetime = Field(alias="createdAt")
    updated_at: datetime = Field(alias="updatedAt")
    project_id: str = Field(alias="projectId")
    name: str | SkipJsonSchema[None] = omitted()


class UploadFields(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    id: str
    upload_url: str = Field(alias="uploadUrl", min_length=1, json_schema_extra=URI)
    public_key: str = Field(alias="publicKey")
    cipher_algorithm: str = Field(alias="cipherAlgorithm")
    initialization_vector_size: int = Field(alias="initializationVectorSize")


def _json_request(model: type[BaseModel], *, required: bool) -> dict[str, Any]:
    """A JSON request body read by hand (:func:`_json_body`), as an OpenAPI ``requestBody``."""
    schema = model.model_json_schema(by_alias=True, ref_template="#/components/schemas/{model}")
    return {"required": required, "content": {"application/json": {"schema": schema}}}


IGNORED_BODY = {
    "required": False,
    "content": {"application/json": {"schema": {"type": "object", "description": "ignored"}}},
}


async def _json_body(request: Request) -> dict[str, Any]:
    """The JSON object body, or ``{}`` when empty (the SDK's PUT sends none)."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise InvalidRequest("Invalid JSON body") from exc
    if not isinstance(body, dict):
        raise InvalidRequest("The body must be a JSON object")
    return body


def _upload_url(request: Request, public_url: str | None, context_id: str, token: str) -> str:
    """``http(s)://<public host>/v1/contexts/{id}/upload?token=…`` (core/public_base.py)."""
    base = urlsplit(public_url or client_base(request))
    path = base.path.rstrip("/")
    return f"{base.scheme}://{base.netloc}{path}/v1/contexts/{context_id}/upload?token={quote(token)}"


def _upload_fields(request: Request, fleet: FleetDep, grant: UploadGrant) -> UploadFields:
    return UploadFields(
        id=grant.context.id,
        upload_url=_upload_url(request, fleet.settings.public_url, grant.context.id, grant.token),
        public_key=grant.public_key_pem,
        cipher_algorithm=CIPHER_ALGORITHM,
        initialization_vector_size=IV_BYTES,
    )


def _context(context: ContextRecord) -> ContextModel:
    return ContextModel(
        id=context.id,
        created_at=context.created_at,
        updated_at=context.updated_at,
        project_id=context.project_id,
        name=context.name,
    )


@router.post(
    "/contexts",
    status_code=201,
    response_model=UploadFields,
    response_model_by_alias=True,
    responses={404: {"description": "projectId names another project"}},
    openapi_extra={"requestBody": _json_request(CreateContextRequest, required=False)},
)
async def create_context(request: Request, project: ProjectDep, fleet: FleetDep) -> UploadFields:
    try:
        body = CreateContextRequest.model_validate(await _json_body(request))
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "body"
        raise InvalidRequest(f"{field}: {first['msg']}") from exc
    if body.project_id is not None and body.project_id != project.id:
        raise NotFound(f"Project {body.project_id} not found")
    return _upload_fields(request, fleet, await fleet.contexts.create(project, body.name))


@router.get(
    "/contexts/{context_id}", response_model=ContextModel, response_model_by_alias=True, responses=NOT_FOUND
)
async def get_context(context_id: str, project: ProjectDep, fleet: FleetDep) -> ContextModel:
    return _context(await fleet.contexts.get(project, context_id))


@router.put(
    "/contexts/{context_id}",
    response_model=UploadFields,
    response_model_by_alias=True,
    responses=NOT_FOUND,
    openapi_extra={"requestBody": IGNORED_BODY},
)
async def update_context(
    context_id: str, request: Request, project: ProjectDep, fleet: FleetDep
) -> UploadFields:
    """Fresh upload fields: a new key pair and a new upload token (the body, usually empty, is
    ignored)."""
    await _json_body(request)
    return _upload_fields(request, fleet, await fleet.contexts.renew_upload(project, context_id))


@router.delete("/contexts/{context_id}", status_code=204, response_class=Response, responses=NOT_FOUND)
async def delete_context(context_id: str, project: ProjectDep, fleet: FleetDep) -> Response:
    await fleet.contexts.delete(project, context_id)
    return Response(status_code=204)


@router.put(
    "/contexts/{context_id}/upload",
    response_model=ContextModel,
    responses=UPLOAD_ANSWERS,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/octet-stream": {"schema": ENCRYPTED_ARCHIVE}},
        }
    },
)
@router.post("/contexts/{context_id}/upload", response_model=ContextModel, include_in_schema=False)
async def upload_context(
    context_id: str,
    request: Request,
    fleet: FleetDep,
    token: Annotated[str | None, Security(UPLOAD_TOKEN)],
) -> ContextModel:
    """The encrypted user-data-dir archive (docs/contexts.md); authenticated by ``token`` only."""
    context = await fleet.contexts.authorize_upload(context_id, token)
    limit = fleet.contexts.max_bytes + UPLOAD_OVERHEAD
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"The upload is larger than the {fleet.contexts.max_bytes} byte limit")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"The upload is larger than the {fleet.contexts.max_bytes} byte limit")
        chunks.append(chunk)
    saved = await fleet.contexts.upload(context, b"".join(chunks))
    return _context(saved)
