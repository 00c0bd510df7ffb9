"""Fixtures of the node's render tests: one pooled browser and an egress proxy that lets the
browser reach the local test site."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator

import pytest

from browserfleet.node.egress import EgressPolicy, EgressProxy
from browserfleet.node.pool import BrowserPool
from browserfleet.settings import CHROMIUM_FLAGS, Settings


@pytest.fixture
async def pool() -> AsyncIterator[BrowserPool]:
    started = BrowserPool(Settings().headless_shell_path, CHROMIUM_FLAGS, size=1, recycle_after=1000)
    await started.start()
    yield started
    await started.close()


@pytest.fixture
async def egress() -> AsyncIterator[EgressProxy]:
    proxy = EgressProxy(EgressPolicy(allow=(ipaddress.ip_network("127.0.0.1/32"),)))
    yield proxy
    await proxy.close()
