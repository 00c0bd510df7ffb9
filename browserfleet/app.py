"""The ASGI app factory: one FastAPI app, one Fleet, every family's router."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from browserfleet.api import (
    agent_runs,
    automations,
    body_limit,
    browsing,
    contexts,
    errors,
    extensions,
    feeds,
    fetch,
    nodes,
    ops,
    projects,
    renders,
    search,
    sessions,
    webhooks,
)
from browserfleet.api.relay import NodeRelay
from browserfleet.core.search import build_backend as build_search_backend
from browserfleet.fleet import VERSION, Fleet
from browserfleet.node.pool import BrowserPool
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
    errors.install(app)
    app.include_router(renders.router)
    app.include_router(sessions.router)
    app.include_router(contexts.router)
    app.include_router(extensions.router)
    app.include_router(projects.router)
    app.include_router(fetch.router)
    app.include_router(ops.router)
    app.include_router(nodes.router)
    app.include_router(automations.router)
    app.include_router(browsing.router)
    app.include_router(agent_runs.router)
    body_limit.install(app, settings)  # before any body is read, authentication included
    app.add_middleware(browsing.RequestIdMiddleware, prefix=browsing.PREFIX)
    app.include_router(feeds.router)
    app.include_router(webhooks.router)
    app.include_router(search.router)
    app.state.search_backend = build_search_backend(settings)
    app.add_middleware(NodeRelay)  # distributed mode: a session's node-local endpoints, on its node
    return app
