"""Routes of extensions (browserbase-compatible; docs/sessions.md "Extensions").

``POST /v1/extensions`` (multipart, one part ``file``: a zip of an unpacked Chrome extension) →
the Extension; ``GET``/``DELETE /v1/extensions/{id}``. Errors use the Sessions envelope
``{statusCode, error, message}``: a bad zip or manifest is 400, a zip over ``extension_max_bytes``
(packed or unpacked) or ``extension_max_files`` 413, another project's id 404.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from browserfleet.api.deps import FleetDep, ProjectDep
from browserfleet.core.errors import PayloadTooLarge
from browserfleet.core.multipart import file_part, file_part_body
from browserfleet.store.records import ExtensionRecord

router = APIRouter(prefix="/v1", tags=["extensions"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such extension (or another project's)"}
}


class ExtensionModel(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    id: str
    created_at: datetime = Field(alias="createdAt")
    updated_at: datetime = Field(alias="updatedAt")
    file_name: str = Field(alias="fileName", min_length=1)
    project_id: str = Field(alias="projectId")


def _extension(extension: ExtensionRecord) -> ExtensionModel:
    return ExtensionModel(
        id=extension.id,
        created_at=extension.created_at,
        updated_at=extension.updated_at,
        file_name=extension.file_name,
        project_id=extension.project_id,
    )


async def _upload(request: Request, limit: int) -> tuple[str | None, bytes]:
    """The ``file`` part's name and bytes (at most ``limit`` of them, else 413)."""
    too_large = f"The extension zip is larger than the {limit} byte limit"
    async with file_part(request, limit, too_large=too_large, what="the zip") as upload:
        data = await upload.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(too_large)
    return upload.filename, data


@router.post(
    "/extensions",
    response_model=ExtensionModel,
    response_model_by_alias=True,
    responses={
        400: {"description": "Not a zip of an unpacked Chrome extension (or a bad manifest)"},
        413: {"description": "Over extension_max_bytes (packed or unpacked) or extension_max_files"},
    },
    openapi_extra={"requestBody": file_part_body("a zip of an unpacked Chrome extension")},
)
async def upload_extension(request: Request, project: ProjectDep, fleet: FleetDep) -> ExtensionModel:
    file_name, data = await _upload(request, fleet.extensions.limits.max_bytes)
    return _extension(await fleet.extensions.create(project, file_name, data))


@router.get(
    "/extensions/{extension_id}",
    response_model=ExtensionModel,
    response_model_by_alias=True,
    responses=NOT_FOUND,
)
async def get_extension(extension_id: str, project: ProjectDep, fleet: FleetDep) -> ExtensionModel:
    return _extension(await fleet.extensions.get(project, extension_id))


@router.delete("/extensions/{extension_id}", status_code=204, response_class=Response, responses=NOT_FOUND)
async def delete_extension(extension_id: str, project: ProjectDep, fleet: FleetDep) -> Response:
    await fleet.extensions.delete(project, extension_id)
    return Response(status_code=204)
