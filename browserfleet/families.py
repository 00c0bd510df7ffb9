"""The API families, each declared once: its paths, error envelope, routers and job kinds.

A family is ``api/<family>/`` (routes, schemas, envelope) on ``core/<family>/`` (its domain rules)
with executors in ``node/`` for its job kinds. The app factories read :data:`FAMILIES`: app.py
includes every family's routers and answers errors in each family's envelope, whose model its
OpenAPI document gives every error response of the family's paths (api/openapi.py); node_app.py
serves the Sessions family's node-local routes (``node_routers``) in its envelope. Nothing
registers itself on import.

Executors are not declared here: fleet.py builds them from the fleet's components (browser pool,
egress proxy, proxy pool, live sessions…) and keys them by job kind, the ``job_kinds`` below.
Authentication is not either: each route declares its own dependency (a project's key; the
Automations family's rate-limited one; the admin key; none for health or a signed upload URL).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from fastapi import APIRouter
from starlette.middleware import Middleware

from browserfleet.api import automations, browsing, renders, sessions
from browserfleet.api.automations import feeds, webhooks
from browserfleet.api.automations.routes import automations_envelope
from browserfleet.api.browsing import agent_runs
from browserfleet.api.browsing.routes import browsing_envelope
from browserfleet.api.errors import Envelope, Envelopes, simple_envelope
from browserfleet.api.ops import nodes
from browserfleet.api.ops import routes as ops_routes
from browserfleet.api.sessions import contexts, extensions, fetch, projects, search
from browserfleet.api.sessions.fetch import fetch_envelope
from browserfleet.api.sessions.routes import session_envelope
from browserfleet.core.automations.files import FILES_PATH
from browserfleet.core.jobs import JobKind
from browserfleet.node.session import routes as node_session_routes


@dataclass(frozen=True)
class Family:
    """One API family. Its errors use ``envelope`` on every path starting with one of
    ``prefixes``; ``other_envelopes`` are the family's paths answered in another envelope (the
    longest prefix wins across all families; paths of no family get the Renders envelope)."""

    name: str
    prefixes: tuple[str, ...]
    envelope: Envelope
    routers: tuple[APIRouter, ...]  # the control plane's (api/<family>/)
    node_routers: tuple[APIRouter, ...] = ()  # node-local: mounted by the embedded app, served by nodes
    job_kinds: tuple[JobKind, ...] = ()  # its jobs; fleet.py gives each kind its executor
    other_envelopes: tuple[tuple[str, Envelope], ...] = ()
    middleware: tuple[Middleware, ...] = ()  # added after the shared ones (body limit), inside the relay

    def envelopes(self) -> list[tuple[str, Envelope]]:
        return [*((prefix, self.envelope) for prefix in self.prefixes), *self.other_envelopes]


RENDERS = Family(
    "renders",
    # /v1/account/balance sits under the Automations family's /v1/account: the longer prefix wins
    prefixes=("/v1/renders", "/v1/regions", "/v1/account/balance"),
    envelope=simple_envelope,
    routers=(renders.router,),
    job_kinds=(JobKind.RENDER,),
)
SESSIONS = Family(
    "sessions",
    prefixes=("/v1/sessions", "/v1/contexts", "/v1/extensions", "/v1/projects", "/v1/search"),
    envelope=session_envelope,
    routers=(
        sessions.router,
        contexts.router,
        extensions.router,
        projects.router,
        fetch.router,
        search.router,
    ),
    node_routers=(node_session_routes.router,),  # CDP, WebDriver, live view, files… (node/session/)
    job_kinds=(JobKind.SESSION, JobKind.FETCH),
    other_envelopes=(("/v1/fetch", fetch_envelope),),  # the Sessions envelope plus the fetch's id
)
AUTOMATIONS = Family(
    "automations",
    prefixes=("/v2/auth", "/v1/account", "/v1/tasks", "/v1/feeds", FILES_PATH),
    envelope=automations_envelope,
    routers=(automations.router, feeds.router, webhooks.router),
    job_kinds=(JobKind.STEPS,),
)
BROWSING = Family(
    "browsing",
    prefixes=(browsing.PREFIX,),
    envelope=browsing_envelope,
    routers=(browsing.router, agent_runs.router),
    job_kinds=(JobKind.AGENT,),
    other_envelopes=(("/v1/agents", session_envelope),),  # Browserbase's agent runs: its envelope
    middleware=(Middleware(browsing.RequestIdMiddleware, prefix=browsing.PREFIX),),
)
OPS = Family(  # shared by all: health, pressure, metrics, the admin's node list
    "ops",
    prefixes=("/health", "/pressure", "/metrics", "/v1/nodes"),
    envelope=simple_envelope,
    routers=(ops_routes.router, nodes.router),
)

FAMILIES: tuple[Family, ...] = (RENDERS, SESSIONS, AUTOMATIONS, BROWSING, OPS)


def envelopes(families: Iterable[Family] = FAMILIES) -> Envelopes:
    """The error envelope of every path of ``families``, as one table (api/errors.py)."""
    return Envelopes(pair for family in families for pair in family.envelopes())
