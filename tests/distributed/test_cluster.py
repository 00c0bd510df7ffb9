"""Distributed mode end to end: a control plane and node processes on Redis and PostgreSQL.

- 60 renders through the official ``browser7`` SDK all complete; those with ``countryCode`` ran on
  the node of that country (the node is recorded on the render's job); the load spreads.
- A node SIGKILLed mid-render: every accepted render completes on another node, each charged
  once, and the node leaves ``GET /v1/nodes``.
- The control plane SIGKILLed and restarted while renders are queued: nothing is lost, nothing
  runs twice.
- A session created through the control plane, driven with Playwright through ``connectUrl``
  while its browser runs on a node process.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from browser7 import AsyncBrowser7
from browserbase import Browserbase
from playwright.sync_api import sync_playwright

from tests.distributed.conftest import NODE_COUNTRIES, SPARE, TTL_S, Cluster
from tests.support.cluster import admin_nodes, start_control
from tests.support.e2e import RenderApi, browser_pids, decode_html, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.postgres, pytest.mark.xdist_group("distributed")]
CITIES = {"DE": "berlin", "FR": "paris", "GB": "london"}
SLOW_MS = 2500  # a render that is still running when a test acts


async def _sdk_renders(base: str, key: str, requests: list[tuple[str, str | None]]) -> list[tuple[str, Any]]:
    """Every (url, countryCode) through ``AsyncBrowser7.render`` at once: (renderId, result) each."""
    async with AsyncBrowser7(api_key=key, base_url=f"{base}/v1") as client:

        async def one(url: str, country: str | None) -> tuple[str, Any]:
            seen: list[str] = []
            result = await client.render(
                url, country_code=country, on_progress=lambda e: seen.append(e.get("renderId", ""))
            )
            return seen[0], result

        return await asyncio.gather(*(one(url, country) for url, country in requests))


def test_sixty_sdk_renders_follow_their_country_and_spread(cluster: Cluster, site_url: str) -> None:
    key = cluster.new_key()
    countries: list[str | None] = [*NODE_COUNTRIES.values()] * 10 + [None] * 30
    requests = [(f"{site_url}/js-content?n={i}", c) for i, c in enumerate(countries)]

    results = asyncio.run(_sdk_renders(cluster.control.url, key, requests))

    assert len(results) == 60
    for (_, result), (_, country) in zip(results, requests, strict=True):
        assert result.status == "completed"
        assert "Alpha" in result.html
        if country:
            assert result.selected_city["name"] == CITIES[country]
    jobs = cluster.jobs([render_id for render_id, _ in results])
    for (render_id, _), (_, country) in zip(results, requests, strict=True):
        state, node_id, attempts, charged = jobs[render_id]
        assert (state, attempts, charged) == ("completed", 1, 1)
        if country:
            assert NODE_COUNTRIES.get(str(node_id)) == country, (render_id, node_id)
    per_node = Counter(node_id for _, node_id, _, _ in jobs.values())
    assert set(NODE_COUNTRIES) <= set(per_node)
    unrouted = Counter(jobs[r][1] for (r, _), (_, c) in zip(results, requests, strict=True) if c is None)
    assert len(unrouted) >= 2, unrouted  # the renders without a country went to several nodes
    with RenderApi(cluster.control.url, key) as api:
        assert api.balance_cents() == 100_000 - 60
    pressure = httpx.get(f"{cluster.control.url}/pressure", timeout=10).json()  # the whole fleet
    live = admin_nodes(cluster.control)
    assert pressure["limits"]["nodes"] == len(live) >= 3
    assert pressure["limits"]["slots"] == 2 * len(live)
    # each node reports its machine and room; the control plane sums them, one machine counted once
    reports = {n["id"]: n for n in pressure["nodes"]}
    assert set(reports) == {n["id"] for n in live}
    assert all(r["memory"]["totalMB"] > r["memory"]["availableMB"] > 0 for r in reports.values())
    assert pressure["cpu"]["cores"] == max(r["cpu"]["cores"] for r in reports.values())
    assert pressure["memory"]["totalMB"] == max(r["memory"]["totalMB"] for r in reports.values())
    assert pressure["sessions"]["limit"] == sum(r["sessions"]["limit"] for r in reports.values())
    assert pressure["sessions"]["limit"] == pressure["limits"]["sessions"] > 0


def test_a_killed_node_loses_no_render_and_charges_none_twice(cluster: Cluster, site_url: str) -> None:
    key = cluster.new_key()
    victim = cluster.nodes[SPARE]
    assert SPARE in {n["id"] for n in admin_nodes(cluster.control)}
    with RenderApi(cluster.control.url, key) as api:
        body = {"url": f"{site_url}/js-content", "waitFor": [{"type": "delay", "duration": SLOW_MS}]}
        ids = [api.create(body) for _ in range(10)]
        wait_until(
            lambda: any(v[:2] == ("running", SPARE) for v in cluster.jobs(ids).values()),
            30,
            what="a render running on the spare node",
        )
        victim.kill()  # returns once the process is gone: nothing more finishes there
        at_kill = cluster.jobs(ids)
        on_victim = [i for i, v in at_kill.items() if v[1] == SPARE and v[0] != "completed"]
        assert on_victim, at_kill

        for render_id in ids:
            answer = api.wait(render_id, 90).json()
            assert answer["status"] == "completed", answer
            assert (answer["charged"], answer["chargedAmountCents"]) == (True, 1)
        assert api.balance_cents() == 100_000 - 10  # each charged exactly once
    jobs = cluster.jobs(ids)
    for render_id in on_victim:
        state, node_id, attempts, _ = jobs[render_id]
        assert (state, attempts) == ("completed", 2)  # ran again, elsewhere
        assert node_id in NODE_COUNTRIES
    wait_until(
        lambda: SPARE not in {n["id"] for n in admin_nodes(cluster.control)},
        TTL_S + 5,
        what="the killed node to leave /v1/nodes",
    )


def test_control_plane_restart_loses_no_queued_render(cluster: Cluster, site_url: str) -> None:
    key = cluster.new_key()
    with RenderApi(cluster.control.url, key) as api:
        body = {"url": f"{site_url}/js-content", "waitFor": [{"type": "delay", "duration": SLOW_MS}]}
        ids = [api.create(body) for _ in range(12)]  # more than every node's slots together
        assert httpx.get(f"{cluster.control.url}/pressure", timeout=10).json()["queued"] > 0
    port = cluster.control.port
    cluster.control.kill()
    cluster.control = start_control(cluster.env, cluster.workdir, name="control-restarted", port=port)
    cluster.control.wait_ready(120)

    with RenderApi(cluster.control.url, key) as api:
        for render_id in ids:
            answer = api.wait(render_id, 90).json()
            assert answer["status"] == "completed", answer
            assert "Alpha" in decode_html(answer["html"])
        assert api.balance_cents() == 100_000 - 12
    jobs = cluster.jobs(ids)
    assert {v[0] for v in jobs.values()} == {"completed"}
    assert {v[2] for v in jobs.values()} == {1}  # the restart requeued nothing the nodes were running


def test_session_through_the_control_plane_runs_on_a_node(cluster: Cluster, site_url: str) -> None:
    key = cluster.new_key()
    client = Browserbase(api_key=key, base_url=cluster.control.url)
    session = client.sessions.create()
    assert session.status == "RUNNING"
    assert session.connect_url.startswith(cluster.control.url.replace("http", "ws"))
    [(_, node_id, _, _)] = cluster.jobs([session.id]).values()
    assert node_id in cluster.nodes
    assert browser_pids(cluster.control.pid) == []  # the control plane runs no browser

    with sync_playwright() as pw:
        browser = pw.chromium.connect_over_cdp(session.connect_url, timeout=20000)
        try:
            page = browser.contexts[0].new_page()
            page.goto(f"{site_url}/js-content")
            page.wait_for_selector("#from-api .api-item")
            assert page.inner_text("#from-api").startswith("Alpha")
        finally:
            browser.close()

    webdriver = httpx.get(  # WebDriver over HTTP, relayed the same way (chromedriver's status)
        f"{cluster.control.url}/v1/sessions/{session.id}/webdriver/status",
        headers={"x-bb-signing-key": _signing_key(session.connect_url)},
        timeout=30,
    )
    assert webdriver.status_code == 200, webdriver.text
    assert webdriver.json()["value"]["ready"] is True
    refused = httpx.get(
        f"{cluster.control.url}/v1/sessions/{session.id}/connect/json/version",
        params={"signingKey": "wrong"},
        timeout=10,
    )
    assert refused.status_code == 401
    client.sessions.update(session.id, status="REQUEST_RELEASE", project_id=session.project_id)
    assert client.sessions.retrieve(session.id).status == "COMPLETED"


def _signing_key(connect_url: str) -> str:
    return parse_qs(urlsplit(connect_url).query)["signingKey"][0]
