"""The browsing family: natural-language tasks run by a browser agent (shared/compat/browsing.md)."""

from browserfleet.api.browsing.request_id import RequestIdMiddleware
from browserfleet.api.browsing.routes import PREFIX, router

__all__ = ["PREFIX", "RequestIdMiddleware", "router"]
