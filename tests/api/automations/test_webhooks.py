"""Run webhooks on real servers and Chromium: one signed POST of the run object per run (finished
or failed) that verifies with the project's secret, retries with back-off until a 2xx with every
attempt on the run, a pending delivery that survives a server restart, and targets the egress
policy refuses (recorded, never contacted)."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.automations import Automations
from tests.support.fleet import FleetHarness, RunningServer
from tests.support.webhook_receiver import Delivery, WebhookReceiver

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("automations")]

DELIVERY_FIELDS = {"webhook_status", "webhook_attempts"}


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as stand_in:
        yield stand_in


def _item_task(site_url: str, tag: str) -> list[dict[str, Any]]:
    return [
        {"uid": "open", "action": "go", "config": {"url": f"{site_url}/catalog/item/2?t={tag}"}},
        {"uid": "title", "action": "save_text", "config": {"selector": "#item-title"}},
    ]


def _secret(client: Automations) -> str:
    response = client.http.get("/v1/account/webhook-secret")
    assert response.status_code == 200, response.text
    secret: str = response.json()["webhook_secret"]
    return secret


def _signature_ok(secret: str, hit: Delivery) -> bool:
    """The documented scheme, computed here independently of browserfleet's code."""
    stamp = hit.headers["x-browserfleet-timestamp"]
    expected = hmac.new(secret.encode(), stamp.encode() + b"." + hit.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(hit.headers["x-browserfleet-signature"], f"sha256={expected}")


def _delivery_state(
    harness: FleetHarness, server: RunningServer, run_uid: str, state: str, timeout: float = 60
) -> None:
    """Wait (reading the store: no API requests against the rate limit) for the run's delivery state."""
    deadline = time.monotonic() + timeout
    while True:
        delivery = harness.run(server.fleet.store.get_webhook_delivery(run_uid))
        if delivery is not None and delivery.state == state:
            return
        assert time.monotonic() < deadline, f"delivery of {run_uid}: {delivery}"
        time.sleep(0.1)


def _get_run(client: Automations, task_uid: str, run_uid: str) -> dict[str, Any]:
    response = client.http.get(f"/v1/tasks/{task_uid}/runs/{run_uid}")
    assert response.status_code == 200, response.text
    run: dict[str, Any] = response.json()
    return run


def test_one_signed_post_per_run_finished_or_failed(
    harness: FleetHarness, server: RunningServer, receiver: WebhookReceiver, site_url: str
) -> None:
    client = Automations(server, harness.new_key(server))
    other = Automations(server, harness.new_key(server))
    try:
        secret, other_secret = _secret(client), _secret(other)
        assert secret.startswith("whsec_") and len(secret) == len("whsec_") + 64
        assert secret == _secret(client) and secret != other_secret  # stable, per project

        tag = uuid.uuid4().hex[:8]
        task = client.create_task(_item_task(site_url, tag))
        before = int(time.time())
        finished = client.run_task(task["uid"], webhook_url=receiver.url, metadata={"order": tag})
        assert finished["status"] == "finished" and finished["outputs"]["title_save_text"] == "Item 2"
        _delivery_state(harness, server, finished["uid"], "delivered")

        hits = receiver.for_run(finished["uid"])
        assert len(hits) == 1
        hit = hits[0]
        assert hit.path == "/hook" and hit.headers["content-type"] == "application/json"
        assert _signature_ok(secret, hit)
        assert not _signature_ok(other_secret, hit)  # another project's secret does not verify
        assert before - 5 <= int(hit.headers["x-browserfleet-timestamp"]) <= time.time() + 5
        shown = _get_run(client, task["uid"], finished["uid"])
        # the posted body is the run object (the delivery's own fields aside); its file URLs are
        # built on the server's configured base URL (public_url, else host:port; port 0 in tests)
        assert server.settings.base_url.encode() in hit.body and shown["video_url"].startswith(server.url)
        posted = json.loads(hit.body.decode().replace(server.settings.base_url, server.url))
        assert posted == {k: v for k, v in shown.items() if k not in DELIVERY_FIELDS}
        assert posted["outputs"] == {"title_save_text": "Item 2"} and posted["metadata"] == {"order": tag}
        assert shown["webhook_status"] == "delivered"
        [attempt] = shown["webhook_attempts"]
        assert attempt["attempt"] == 1 and attempt["status_code"] == 200 and attempt["error"] is None
        assert attempt["duration_ms"] >= 0 and attempt["at"].endswith("Z")

        # a failed run is posted too, with its error
        failing = client.run_task(
            task["uid"],
            webhook_url=receiver.url,
            steps=[{"uid": "title", "config": {"selector": "#not-there", "timeout": 300}}],
        )
        assert failing["status"] == "failed"
        _delivery_state(harness, server, failing["uid"], "delivered")
        [failed_hit] = receiver.for_run(failing["uid"])
        assert _signature_ok(secret, failed_hit)
        assert failed_hit.json()["status"] == "failed" and failed_hit.json()["error"]["step"] == "title"

        # without a webhook_url: nothing is sent or recorded
        quiet = client.run_task(task["uid"])
        assert quiet["webhook_status"] is None and quiet["webhook_attempts"] == []
        assert receiver.for_run(quiet["uid"]) == []
    finally:
        client.close()
        other.close()


def test_retries_with_backoff_until_2xx_then_gives_up_after_max_attempts(
    harness: FleetHarness, receiver: WebhookReceiver, site_url: str
) -> None:
    server = harness.server(webhook_backoff_s=0.3, webhook_max_attempts=3)
    client = Automations(server, harness.new_key(server))
    try:
        secret = _secret(client)
        task = client.create_task(_item_task(site_url, uuid.uuid4().hex[:8]))

        receiver.fail_next(2)
        run = client.run_task(task["uid"], webhook_url=receiver.url)
        _delivery_state(harness, server, run["uid"], "delivered")
        hits = receiver.for_run(run["uid"])
        assert [h.status for h in hits] == [500, 500, 200]
        assert all(_signature_ok(secret, h) for h in hits)
        assert len({h.body for h in hits}) == 1  # the same run object every time
        assert [h.headers["x-browserfleet-attempt"] for h in hits] == ["1", "2", "3"]
        gaps = [b.received_at - a.received_at for a, b in itertools.pairwise(hits)]
        assert gaps[0] >= 0.3 and gaps[1] >= 0.6  # backoff_s, then doubled
        shown = _get_run(client, task["uid"], run["uid"])
        assert shown["webhook_status"] == "delivered"
        assert [a["status_code"] for a in shown["webhook_attempts"]] == [500, 500, 200]
        assert [a["attempt"] for a in shown["webhook_attempts"]] == [1, 2, 3]

        receiver.fail_next(10)
        doomed = client.run_task(task["uid"], webhook_url=receiver.url)
        _delivery_state(harness, server, doomed["uid"], "failed")
        assert [h.status for h in receiver.for_run(doomed["uid"])] == [500, 500, 500]
        shown = _get_run(client, task["uid"], doomed["uid"])
        assert shown["webhook_status"] == "failed" and len(shown["webhook_attempts"]) == 3
    finally:
        client.close()
        harness.stop_server(server)


def test_pending_delivery_survives_a_restart(
    harness: FleetHarness, receiver: WebhookReceiver, site_url: str, tmp_path: Path
) -> None:
    data_dir = tmp_path / "webhook-restart"
    first = harness.server(data_dir=data_dir, webhook_backoff_s=5)
    key = harness.new_key(first)
    client = Automations(first, key)
    task = client.create_task(_item_task(site_url, uuid.uuid4().hex[:8]))
    receiver.fail_next(1)
    run = client.run_task(task["uid"], webhook_url=receiver.url)
    assert len(receiver.wait_for(run["uid"], 1, timeout=30)) == 1
    client.close()
    harness.stop_server(first)  # the retry is due 5 s after the failed attempt: not made yet
    assert [h.status for h in receiver.for_run(run["uid"])] == [500]

    second = harness.server(data_dir=data_dir, webhook_backoff_s=5)
    client = Automations(second, key)
    try:
        _delivery_state(harness, second, run["uid"], "delivered", timeout=30)
        hits = receiver.for_run(run["uid"])
        assert [h.status for h in hits] == [500, 200]
        assert _signature_ok(_secret(client), hits[1])  # the secret survives too (same master key)
        shown = _get_run(client, task["uid"], run["uid"])
        assert [a["status_code"] for a in shown["webhook_attempts"]] == [500, 200]
        assert shown["webhook_status"] == "delivered"
    finally:
        client.close()
        harness.stop_server(second)


def test_targets_refused_by_the_egress_policy_are_recorded_and_never_contacted(
    harness: FleetHarness, server: RunningServer, receiver: WebhookReceiver, site_url: str
) -> None:
    # the default test server refuses private networks (only 127.0.0.1 is allowed)
    client = Automations(server, harness.new_key(server))
    try:
        task = client.create_task(_item_task(site_url, uuid.uuid4().hex[:8]))
        run = client.run_task(task["uid"], webhook_url="http://10.0.0.1:8080/hook")
        _delivery_state(harness, server, run["uid"], "refused")
        shown = _get_run(client, task["uid"], run["uid"])
        [attempt] = shown["webhook_attempts"]
        assert attempt["status_code"] is None and "private address" in attempt["error"]
    finally:
        client.close()

    # a server whose policy does not allow loopback: the receiver on 127.0.0.1 never hears of it
    strict = harness.server(egress_allow=[])
    client = Automations(strict, harness.new_key(strict))
    try:
        task = client.create_task(
            [{"uid": "calc", "action": "run_javascript", "config": {"code": "return 6 * 7"}}]
        )
        run = client.run_task(task["uid"], webhook_url=receiver.url)
        assert run["status"] == "finished" and run["outputs"] == {"calc_run_javascript": 42}
        _delivery_state(harness, strict, run["uid"], "refused")
        assert receiver.for_run(run["uid"]) == [] and receiver.requests == []
        [attempt] = _get_run(client, task["uid"], run["uid"])["webhook_attempts"]
        assert "loopback address" in attempt["error"]
    finally:
        client.close()
        harness.stop_server(strict)
