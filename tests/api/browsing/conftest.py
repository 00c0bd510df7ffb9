"""Browsing API fixtures: the model provider stand-in, and a server with three local nodes
(two in DE, one in FR, beside the main node) whose agent talks to it, with a templates folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.browsing import Browsing
from tests.support.fleet import FleetHarness, RunningServer
from tests.support.llm_standin import LLM_KEY, LLMStandIn

LOCAL_NODES = [
    {"id": "bn-de-1", "country": "DE", "slots": 2},
    {"id": "bn-de-2", "country": "DE", "slots": 2},
    {"id": "bn-fr-1", "country": "FR", "city": "Paris", "slots": 2},
]
QUICK_TEMPLATE = """\
max_failures: 2
action_timeout_ms: 300
"""
SHORT_TEMPLATE = """\
instructions: Answer with the number only.
model: scripted-small
max_steps: 3
allowed_actions: [navigate, click, wait, extract_text]
screenshots: {mode: every_step}
"""


@pytest.fixture(scope="session")
def llm_server() -> Iterator[LLMStandIn]:
    with LLMStandIn() as server:
        yield server


@pytest.fixture
def llm(llm_server: LLMStandIn) -> Iterator[LLMStandIn]:
    """The stand-in with an empty script and no recorded requests; held replies are let go after."""
    llm_server.play([])
    yield llm_server
    llm_server.release()


def llm_settings(llm: LLMStandIn) -> dict[str, object]:
    return {"llm_base_url": llm.url, "llm_api_key": LLM_KEY, "llm_model": "scripted"}


@pytest.fixture(scope="session")
def templates_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("browsing-templates")
    (folder / "short.yaml").write_text(SHORT_TEMPLATE)
    (folder / "quick.yml").write_text(QUICK_TEMPLATE)
    return folder


@pytest.fixture(scope="session")
def bserver(harness: FleetHarness, llm_server: LLMStandIn, templates_dir: Path) -> Iterator[RunningServer]:
    running = harness.server(
        **llm_settings(llm_server), local_nodes=LOCAL_NODES, browsing_templates_dir=templates_dir
    )
    yield running
    harness.stop_server(running)


@pytest.fixture
def bkey(harness: FleetHarness, bserver: RunningServer) -> str:
    return harness.new_key(bserver)


@pytest.fixture
def client(bserver: RunningServer, bkey: str) -> Iterator[Browsing]:
    browsing = Browsing(bserver.url, bkey)
    yield browsing
    browsing.close()
