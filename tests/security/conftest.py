"""Fixtures of the attack tests: the attacker's loopback target."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.listener import Listener


@pytest.fixture
def listener() -> Iterator[Listener]:
    running = Listener()
    yield running
    running.close()
