"""Web search (``POST /v1/search``) through a pluggable backend chosen by settings.

``search_backend`` names it: ``searxng`` (a SearXNG instance's JSON API, ``searxng_url``) or
``exa`` (Exa's search API, ``exa_api_key``); unset means web search is off and the API answers a
503 naming the settings to set. The settings validator guarantees the chosen backend has its URL
or key, so :func:`build_backend` never sees a half-configured one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from browserfleet.core.sessions.search.base import (
    MAX_RESULTS,
    SearchBackend,
    SearchFailed,
    SearchHit,
    SearchPage,
)
from browserfleet.core.sessions.search.exa import ExaBackend
from browserfleet.core.sessions.search.searxng import SearxngBackend

if TYPE_CHECKING:  # settings import the core, not the other way round
    from browserfleet.settings import Settings

__all__ = [
    "MAX_RESULTS",
    "NOT_CONFIGURED",
    "ExaBackend",
    "SearchBackend",
    "SearchFailed",
    "SearchHit",
    "SearchPage",
    "SearxngBackend",
    "build_backend",
]

NOT_CONFIGURED = (
    "Web search is not configured: set BROWSERFLEET_SEARCH_BACKEND=searxng and "
    "BROWSERFLEET_SEARXNG_URL (or BROWSERFLEET_SEARCH_BACKEND=exa and BROWSERFLEET_EXA_API_KEY)"
)


def build_backend(settings: Settings) -> SearchBackend | None:
    """The configured backend, or None when ``search_backend`` is unset.

    When you add a backend, also add its name to ``Settings.search_backend``, its settings and
    their check to ``Settings._check_search``, and its rows to docs/configuration.md."""
    if settings.search_backend == "searxng" and settings.searxng_url:
        return SearxngBackend(settings.searxng_url, timeout_s=settings.search_timeout_s)
    if settings.search_backend == "exa" and settings.exa_api_key is not None:
        return ExaBackend(
            settings.exa_api_key, base_url=settings.exa_base_url, timeout_s=settings.search_timeout_s
        )
    return None
