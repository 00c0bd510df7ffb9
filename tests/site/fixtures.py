"""Pytest fixtures for the test site.

Use from a conftest with ``pytest_plugins = ["tests.site.fixtures"]`` (root conftest) or
``from tests.site.fixtures import site_server, site_url  # noqa: F401``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.site.server import SiteServer


@pytest.fixture(scope="session")
def site_server() -> Iterator[SiteServer]:
    """The test site, started once per session (per xdist worker) on a free port."""
    with SiteServer() as server:
        yield server


@pytest.fixture(scope="session")
def site_url(site_server: SiteServer) -> str:
    """Base URL of the test site, e.g. ``http://127.0.0.1:54321`` (no trailing slash)."""
    return site_server.url
