"""The browsing family: natural-language tasks run by a browser agent (shared/compat/browsing.md).

``routes`` (``/api/v1/browsing``; the family's error envelope) with its ``schemas`` and
``request_id`` (``X-Request-ID``), and ``agent_runs`` (Browserbase's ``/v1/agents/runs`` on the
same engine, in the Sessions envelope). browserfleet/families.py lists the routers."""

from browserfleet.api.browsing.request_id import RequestIdMiddleware
from browserfleet.api.browsing.routes import PREFIX, router

__all__ = ["PREFIX", "RequestIdMiddleware", "router"]
