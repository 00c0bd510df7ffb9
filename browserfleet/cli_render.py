"""``browserfleet render``: build the Renders API request, run it embedded or remotely, show progress.

Through a server (``--server``) it loads the request schema and an HTTP client only; the engine
(the fleet, its store and browsers) is imported by :func:`render_embedded` alone.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from rich.console import Console
from rich.status import Status

from browserfleet.api.renders.schemas import CreateRenderRequest

if TYPE_CHECKING:
    from browserfleet.settings import Settings

POLL_S = 0.5
KINDS = {"selector": "selector", "text": "text", "click": "selector", "delay": "duration"}


class RenderRequestError(ValueError):
    pass


def parse_wait(spec: str) -> dict[str, Any]:
    kind, sep, value = spec.partition(":")
    if not sep or kind not in KINDS or not value:
        raise RenderRequestError(f"--wait-for {spec!r}: use selector:CSS, text:TEXT, click:CSS or delay:MS")
    if kind == "delay":
        if not value.isdigit():
            raise RenderRequestError(f"--wait-for {spec!r}: delay takes milliseconds")
        return {"type": "delay", "duration": int(value)}
    return {"type": kind, KINDS[kind]: value}


def build_request(
    url: str, waits: list[str], country: str | None, city: str | None, screenshot: Path | None
) -> dict[str, Any]:
    body: dict[str, Any] = {"url": url, "waitFor": [parse_wait(w) for w in waits]}
    if country:
        body["countryCode"] = country
    if city:
        body["city"] = city
    if screenshot:
        body |= {
            "includeScreenshot": True,
            "screenshotFormat": "png" if screenshot.suffix == ".png" else "jpeg",
        }
    try:
        CreateRenderRequest.model_validate(body)
    except ValidationError as exc:
        raise RenderRequestError(exc.errors()[0]["msg"].removeprefix("Value error, ")) from exc
    return body


def render_embedded(settings: Settings, body: dict[str, Any], console: Console) -> dict[str, Any]:
    from browserfleet.api.renders.routes import completed_body, failed_body
    from browserfleet.core.geo import catalogue
    from browserfleet.fleet import Fleet

    async def main() -> dict[str, Any]:
        with console.status("starting browsers…") as status:
            fleet = Fleet(settings)
            await fleet.start()
            try:
                request = CreateRenderRequest.model_validate(body)
                city = catalogue().resolve(request.country_code, request.city)
                project = await fleet.accounts.default_project()
                job = await fleet.renders.create(project, request.to_spec(city.name if city else None))
                started = time.monotonic()
                while True:
                    view = await fleet.renders.wait(project, job.id, POLL_S)
                    _progress(status, job.id, view.job.state.value, started)
                    if view.job.state.terminal:
                        return (
                            completed_body(view) if view.job.state.value == "completed" else failed_body(view)
                        )
            finally:
                await fleet.stop()

    return asyncio.run(main())


def render_remote(server: str, key: str, body: dict[str, Any], console: Console) -> dict[str, Any]:
    """The render's final answer from ``server``; :class:`RenderRequestError` when it cannot be
    reached."""
    import httpx

    try:
        return _poll_remote(server, key, body, console)
    except httpx.HTTPError as exc:
        raise RenderRequestError(f"{server}: {exc or type(exc).__name__}") from exc


def _poll_remote(server: str, key: str, body: dict[str, Any], console: Console) -> dict[str, Any]:
    from browserfleet.core.http import outbound_sync_client

    base = server.rstrip("/")
    base = base if base.endswith("/v1") else base + "/v1"
    with (
        outbound_sync_client(headers={"Authorization": f"Bearer {key}"}, timeout=60) as client,
        console.status("submitting…") as status,
    ):
        created = client.post(f"{base}/renders", json=body)
        if created.status_code >= 400:
            return {
                "status": "failed",
                "errorCode": created.status_code,
                "errorMessage": created.json().get("message"),
            }
        render_id = created.json()["renderId"]
        started = time.monotonic()
        while True:
            result: dict[str, Any] = client.get(f"{base}/renders/{render_id}", params={"wait": 5}).json()
            _progress(status, render_id, result.get("status", "?"), started)
            if result.get("status") in ("completed", "failed"):
                return result


def _progress(status: Status, render_id: str, state: str, started: float) -> None:
    status.update(f"{render_id}: {state} ({time.monotonic() - started:.1f}s)")
