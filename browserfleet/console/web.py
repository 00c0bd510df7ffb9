"""The console's request plumbing: the fleet and auth it serves from, who is signed in, checked
forms, and pages rendered from Jinja2 templates (every value autoescaped)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote, urlsplit

import jinja2
from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from starlette.datastructures import FormData

from browserfleet.console.auth import (
    CSRF_FIELD,
    NONCE_COOKIE,
    SESSION_COOKIE,
    ConsoleAuth,
    CookieSigner,
    Viewer,
)
from browserfleet.core.errors import NotFound
from browserfleet.store.records import ProjectRecord

if TYPE_CHECKING:
    from browserfleet.fleet import Fleet

PREFIX = "/console"
TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,  # every template, whatever its name: titles, URLs, logs come from the web
    trim_blocks=True,
    lstrip_blocks=True,
)


class NotSignedIn(Exception):
    """No valid console session: the page sends the browser to the sign-in form."""


class AdminOnly(Exception):
    """The admin key's session has no project: its pages are the fleet's."""


def fleet_of(request: Request) -> Fleet:
    """The host app's fleet; also kept in the console app's own state, where the API's helpers
    that the console calls look for it (``request.app.state.fleet``)."""
    fleet: Fleet = request.app.state.host.state.fleet
    request.app.state.fleet = fleet
    return fleet


def auth_of(request: Request) -> ConsoleAuth:
    """The console's auth, built on first use from the fleet (it starts with the host app)."""
    state = request.app.state
    if getattr(state, "auth", None) is None:
        fleet = fleet_of(request)
        admin = fleet.settings.admin_key.get_secret_value() if fleet.settings.admin_key else None
        signer = CookieSigner(fleet.contexts.vault.key_for("console-sessions", "v1"))
        ttl_s = round(fleet.settings.console_session_hours * 3600)
        state.auth = ConsoleAuth(fleet.accounts, signer, admin_key=admin, ttl_s=ttl_s)
    auth: ConsoleAuth = state.auth
    return auth


async def current_viewer(request: Request) -> Viewer:
    viewer = await auth_of(request).viewer(request.cookies.get(SESSION_COOKIE))
    if viewer is None:
        raise NotSignedIn
    request.state.viewer = viewer
    return viewer


async def current_project(viewer: Annotated[Viewer, Depends(current_viewer)]) -> ProjectRecord:
    if viewer.project is None:
        raise AdminOnly
    return viewer.project


async def admin_viewer(viewer: Annotated[Viewer, Depends(current_viewer)]) -> Viewer:
    if not viewer.admin:
        raise NotFound("Not found")
    return viewer


async def checked_form(request: Request) -> FormData:
    """The request's form, refused (403) without this browser's CSRF token or from another origin."""
    form = await request.form()
    origin = request.headers.get("origin")
    nonce = request.cookies.get(NONCE_COOKIE)
    token = form.get(CSRF_FIELD)
    auth = auth_of(request)
    auth.check_csrf(nonce, token if isinstance(token, str) else None)
    if origin and not _own_origin(request, origin):
        auth.check_csrf(None, None)  # a token copied into another site's form: still refused
    return form


def _own_origin(request: Request, origin: str) -> bool:
    """Whether a form's ``Origin`` is the console's own host (the one the browser asked for, or
    ``public_url``'s: a TLS-terminating proxy in front changes the scheme, not the host)."""
    public = fleet_of(request).settings.public_url
    hosts = {request.headers.get("host", ""), urlsplit(public).netloc if public else ""} - {""}
    return urlsplit(origin).netloc in hosts


async def checked_header(request: Request) -> None:
    """A script's state-changing request: this browser's CSRF token in ``X-CSRF-Token``."""
    token = request.headers.get("x-csrf-token")
    auth_of(request).check_csrf(request.cookies.get(NONCE_COOKIE), token)


FleetDep = Annotated["Fleet", Depends(fleet_of)]
ViewerDep = Annotated[Viewer, Depends(current_viewer)]
ProjectDep = Annotated[ProjectRecord, Depends(current_project)]
AdminDep = Annotated[Viewer, Depends(admin_viewer)]
FormDep = Annotated[FormData, Depends(checked_form)]
JsonCsrfDep = Annotated[None, Depends(checked_header)]


def render(request: Request, template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    """The page ``template`` with the signed-in viewer, this browser's CSRF token and ``context``."""
    nonce = request.state.nonce
    values = {
        "request": request,
        "viewer": getattr(request.state, "viewer", None),
        "csrf": auth_of(request).csrf_token(nonce),
        "csrf_field": CSRF_FIELD,
        "path": request.url.path,
        **context,
    }
    return HTMLResponse(TEMPLATES.get_template(template).render(values), status_code=status)


def page_query(request: Request, **changes: Any) -> str:
    """The current query string with ``changes`` (None removes a key): links to other pages of a list."""
    params = dict(request.query_params)
    for key, value in changes.items():
        if value is None:
            params.pop(key, None)
        else:
            params[key] = str(value)
    return "?" + "&".join(f"{quote(k)}={quote(v)}" for k, v in params.items()) if params else "?"


def when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if moment else "—"


def size(n: float | None) -> str:
    if n is None:
        return "—"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def pretty(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str, ensure_ascii=False)


TEMPLATES.filters.update(when=when, size=size, pretty=pretty)
TEMPLATES.globals.update(page_query=page_query, PREFIX=PREFIX)
