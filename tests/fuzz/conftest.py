"""Schemathesis over a real server: what the fuzz tests share.

One server for the folder (``fuzz_server``), started by the harness with an egress policy that
allows only 127.0.0.1 (the test site), a SearXNG stand-in as its search backend and a model stand-in
as its agent's model (the agent is told to finish at once: it never navigates), so valid requests
to every family can succeed without reaching anything but loopback. Every request carries a fresh
project's key twice, ``Authorization: Bearer`` and ``X-BB-API-Key``.

What a case may make the server reach is confined to the test site (tests/fuzz/confine.py), and
where a case names a resource or a value only this fleet can judge, it is given a real one
(tests/fuzz/resources.py); tests/fuzz/fuzzer.py sends the cases. Sessions the run creates are
released right after the call that created them; the ``fuzz`` fixture's finaliser releases
whatever is left and fails if a session of the run is still running.

The whole folder runs on one xdist worker (``xdist_group("fuzz")``), seeded and bounded: see
tests/fuzz/schemas.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.fuzz.fuzzer import Fuzzer
from tests.support.fleet import FleetHarness, RunningServer
from tests.support.llm_standin import LLM_KEY, LLMStandIn, Seen, call
from tests.support.search_standins import SearxngStandIn
from tests.support.upstream_proxy import HttpProxyStandIn

LOCAL_NODES = [{"id": "fuzz-de", "country": "DE", "slots": 2}, {"id": "fuzz-fr", "country": "FR", "slots": 2}]


def _finish_at_once(seen: Seen) -> Any:
    """Every agent step: done. The agent never navigates, so no URL in a fuzzed task is visited."""
    return call("done", success=True, result="fuzzed")


@pytest.fixture(autouse=True)
def _schemathesis_node_id(request: pytest.FixtureRequest) -> None:
    """schemathesis 4.32's lazy schemas name each operation's subtest by rewriting the item's
    ``_nodeid``, which pytest 9.2 no longer has (it keeps ``_id``): give it one to rewrite."""
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid


@pytest.fixture(scope="package")
def fuzz_llm() -> Iterator[LLMStandIn]:
    with LLMStandIn() as server:
        server.play(_finish_at_once)
        yield server


@pytest.fixture(scope="package")
def fuzz_search() -> Iterator[SearxngStandIn]:
    with SearxngStandIn() as server:
        yield server


@pytest.fixture(scope="package")
def fuzz_exit() -> Iterator[HttpProxyStandIn]:
    """The node's exit proxy for US (it relays to loopback destinations only)."""
    with HttpProxyStandIn() as proxy:
        yield proxy


@pytest.fixture(scope="package")
def fuzz_server(
    harness: FleetHarness, fuzz_llm: LLMStandIn, fuzz_search: SearxngStandIn, fuzz_exit: HttpProxyStandIn
) -> Iterator[RunningServer]:
    running = harness.server(
        search_backend="searxng",
        searxng_url=fuzz_search.url,
        llm_base_url=fuzz_llm.url,
        llm_api_key=LLM_KEY,
        llm_model="scripted",
        browsing_sync_wait_s=30.0,
        automation_rate_limit=100_000,  # every operation of the family, MAX_EXAMPLES cases each, in seconds
        node_country="US",  # `proxies: true` leaves through the US exit, a stand-in on loopback
        proxies=[{"url": fuzz_exit.url, "country": "US", "name": "us-exit"}],
        local_nodes=LOCAL_NODES,  # browsing tasks can fan out over three nodes in three countries
    )
    yield running
    harness.stop_server(running)


@pytest.fixture(scope="package")
def fuzz(harness: FleetHarness, fuzz_server: RunningServer, site_url: str) -> Iterator[Fuzzer]:
    fuzzer = Fuzzer(fuzz_server, harness.new_key(fuzz_server), site_url)
    try:
        yield fuzzer
    finally:
        fuzzer.close()
