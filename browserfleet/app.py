"""The ASGI app factory: one FastAPI app, one Fleet, every family's routers (families.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from browserfleet.api import body_limit, errors, openapi
from browserfleet.api.finished import ResultCache, ServeFinished
from browserfleet.api.relay import NodeRelay
from browserfleet.console.app import create_console
from browserfleet.core.sessions.search import build_backend as build_search_backend
from browserfleet.families import FAMILIES, envelopes
from browserfleet.fleet import VERSION, Fleet
from browserfleet.node.pool import BrowserPool
from browserfleet.node.session.routes import node_local_segments
from browserfleet.settings import Settings


def create_app(
    settings: Settings,
    *,
    pool: BrowserPool | None = None,
    fleet: Fleet | None = None,
    run_nodes: bool = True,
) -> FastAPI:
    """``pool``: share warm browsers with other apps; ``fleet``: an already started fleet;
    ``run_nodes=False``: a control plane (``serve --role control``), the APIs without browsers."""
    owned = fleet is None
    the_fleet = fleet or Fleet(settings, pool=pool)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if owned:
            await the_fleet.start(run_nodes=run_nodes, own_jobs=True)
        app.state.fleet = the_fleet
        try:
            yield
        finally:
            if owned:
                await the_fleet.stop()

    app = FastAPI(
        title="browserfleet",
        version=VERSION,
        description="Self-hosted browser automation: renders, sessions, automations, browsing agents.",
        lifespan=lifespan,
    )
    errors.install(app, envelopes(FAMILIES))
    # documents each family's envelope, not FastAPI's 422, and this server's choices (api/openapi.py)
    openapi.install(app, lambda: configured_choices(app))
    for family in FAMILIES:
        for router in (*family.routers, *family.node_routers):
            app.include_router(router)
    # finished results answered from memory, just outside the router (api/finished.py)
    app.state.result_cache = ResultCache.from_settings(settings)
    app.add_middleware(ServeFinished, cache=app.state.result_cache)
    body_limit.install(app, settings)  # before any body is read, authentication included
    for family in FAMILIES:
        for middleware in family.middleware:
            app.add_middleware(middleware.cls, *middleware.args, **middleware.kwargs)
    app.state.search_backend = build_search_backend(settings)
    app.mount("/console", create_console(app))  # the web console (browserfleet/console/)
    app.add_api_route("/", _root, include_in_schema=False)
    # distributed mode: a session's node-local endpoints (those its router serves), on its node
    app.add_middleware(NodeRelay, node_local=node_local_segments())
    return app


def configured_choices(app: FastAPI) -> openapi.Choices:
    """What only this server's configuration accepts: its search backend and, once started, its
    browsing templates (``null``: the default of each)."""
    backend = app.state.search_backend
    choices: dict[tuple[str, str], list[object]] = {
        ("SearchRequest", "provider"): [backend.name, None] if backend else [None]
    }
    fleet: Fleet | None = getattr(app.state, "fleet", None)
    if fleet is not None:
        templates: list[object] = [*fleet.browsing.templates.names, None]
        choices[("BrowsingTaskRequest", "template")] = templates
        choices[("AgentRunRequest", "agentId")] = templates
    return choices


async def _root(request: Request) -> Response:
    """A browser is sent to the console; an API client gets the 404 any unknown path gets."""
    if "text/html" in request.headers.get("accept", ""):
        return RedirectResponse("/console/", status_code=303)
    raise StarletteHTTPException(status_code=404)
