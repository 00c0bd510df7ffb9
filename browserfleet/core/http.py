"""The one place outbound HTTP clients are built (httpx), so every one of them behaves alike.

Every client ignores the process environment (``trust_env=False``: no ``HTTP_PROXY`` or
``.netrc`` of the host silently applied to a tenant's fetch, a webhook or a node relay) and
follows no redirect unless the caller says so. Callers pass what differs (timeouts, a proxy, TLS
verification); ``ruff`` bans constructing ``httpx.AsyncClient``/``httpx.Client`` anywhere else.
"""

from __future__ import annotations

from typing import Any

import httpx

__all__ = ["OutboundClient", "outbound_client", "outbound_sync_client"]

OutboundClient = httpx.AsyncClient  # the type, for annotations elsewhere


def outbound_client(**options: Any) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` with this module's defaults; ``options`` override them."""
    return httpx.AsyncClient(**{"trust_env": False, "follow_redirects": False, **options})


def outbound_sync_client(**options: Any) -> httpx.Client:
    """The blocking twin of :func:`outbound_client` (the command-line client)."""
    return httpx.Client(**{"trust_env": False, "follow_redirects": False, **options})
