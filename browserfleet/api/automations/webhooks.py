"""The project's webhook signing secret (core/automations/webhooks.py): ``GET /v1/account/webhook-secret``.

A separate path rather than a field of ``GET /v1/account`` so the account object stays exactly
Browserbear's. The secret is derived from the server's master key; it changes only with it.
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from browserfleet.api.automations.routes import LIMITED, Project
from browserfleet.api.deps import FleetDep
from browserfleet.core.automations.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER

router = APIRouter(tags=["automations"])


class WebhookSecretResponse(BaseModel):
    webhook_secret: str
    signature_header: str = SIGNATURE_HEADER
    timestamp_header: str = TIMESTAMP_HEADER
    scheme: str = 'sha256=hex(HMAC-SHA256(webhook_secret, "<timestamp>.<body>"))'


@router.get("/v1/account/webhook-secret", response_model=WebhookSecretResponse, responses=LIMITED)
async def webhook_secret(project: Project, fleet: FleetDep) -> WebhookSecretResponse:
    return WebhookSecretResponse(webhook_secret=fleet.webhooks.secret_for(project.id))
