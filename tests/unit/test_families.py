"""The family declarations (browserfleet/families.py): every job kind and path has one owner, and
the error envelopes come from the declarations, not from importing the routes."""

from __future__ import annotations

from collections import Counter

from fastapi import APIRouter

from browserfleet.api.automations.routes import automations_envelope
from browserfleet.api.browsing.routes import browsing_envelope
from browserfleet.api.errors import Envelopes, simple_envelope
from browserfleet.api.sessions.fetch import fetch_envelope
from browserfleet.api.sessions.routes import session_envelope
from browserfleet.core.jobs import JobKind
from browserfleet.families import FAMILIES, SESSIONS, envelopes


def test_every_job_kind_belongs_to_one_family() -> None:
    kinds = Counter(kind for family in FAMILIES for kind in family.job_kinds)
    assert kinds == Counter(set(JobKind))


def test_no_path_prefix_or_router_is_declared_twice() -> None:
    prefixes = [prefix for family in FAMILIES for prefix, _ in family.envelopes()]
    routers = [id(r) for family in FAMILIES for r in (*family.routers, *family.node_routers)]
    assert len(prefixes) == len(set(prefixes))
    assert len(routers) == len(set(routers))
    assert all(isinstance(r, APIRouter) for f in FAMILIES for r in f.routers)


def test_each_path_gets_its_family_envelope() -> None:
    table = envelopes()
    assert table.for_path("/v1/renders/abc") is simple_envelope
    assert table.for_path("/v1/account/balance") is simple_envelope  # Renders', under /v1/account
    assert table.for_path("/v1/account") is automations_envelope
    assert table.for_path("/v1/feeds") is automations_envelope
    assert table.for_path("/v1/sessions/x/connect") is session_envelope
    assert table.for_path("/v1/contexts/x") is session_envelope
    assert table.for_path("/v1/fetch") is fetch_envelope
    assert table.for_path("/v1/agents/runs") is session_envelope
    assert table.for_path("/api/v1/browsing/status") is browsing_envelope
    assert table.for_path("/nowhere") is simple_envelope


def test_importing_the_routes_registers_nothing() -> None:
    """An empty table answers every path with the default envelope, whatever was imported."""
    assert Envelopes().for_path("/v1/sessions") is simple_envelope
    assert envelopes([SESSIONS]).for_path("/v1/tasks") is simple_envelope
