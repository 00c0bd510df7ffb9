"""Feeds over a task's run outputs, on real runs (Chromium, the local test site): latest run vs
all finished runs, picking and renaming fields, flattening a list output, the feed list, deletion,
validation and another project's feed."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.automations import Automations
from tests.support.fleet import FleetHarness, RunningServer

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("automations")]

PEOPLE = "people_save_structured_data"
TAG = "tag_run_javascript"


@pytest.fixture(scope="module")
def aserver(harness: FleetHarness) -> Iterator[RunningServer]:
    """A server of its own with a roomy rate limit: these tests make many requests per key."""
    running = harness.server(automation_rate_limit=1000)
    yield running
    harness.stop_server(running)


def _steps(site_url: str) -> list[dict[str, Any]]:
    return [
        {"uid": "open", "action": "go", "config": {"url": f"{site_url}/structured?tag=none"}},
        {
            "uid": "people",
            "action": "save_structured_data",
            "config": {
                "parent_selector": "tr.person",
                "fields": [
                    {"name": "name", "selector": "td.name"},
                    {"name": "city", "selector": "td.city"},
                ],
            },
        },
        {
            "uid": "tag",
            "action": "run_javascript",
            "config": {"code": "return new URLSearchParams(location.search).get('tag')"},
        },
    ]


def _run(client: Automations, task_uid: str, site_url: str, tag: str) -> dict[str, Any]:
    override = [{"uid": "open", "config": {"url": f"{site_url}/structured?tag={tag}"}}]
    run = client.run_task(task_uid, steps=override, metadata={"tag": tag.upper()})
    assert run["status"] == "finished", run["error"]
    assert run["outputs"][TAG] == tag
    return run


def _create(client: Automations, task_uid: str, **body: Any) -> dict[str, Any]:
    response = client.http.post(f"/v1/tasks/{task_uid}/feeds", json={"name": "feed", **body})
    assert response.status_code == 201, response.text
    feed: dict[str, Any] = response.json()
    return feed


def _data(client: Automations, feed: dict[str, Any]) -> list[dict[str, Any]]:
    response = client.http.get(f"/v1/tasks/{feed['task']}/feeds/{feed['uid']}")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["uid"] == feed["uid"] and body["task"] == feed["task"] and body["name"] == feed["name"]
    data: list[dict[str, Any]] = body["data"]
    return data


def test_latest_all_pick_rename_and_flatten(client: Automations, site_url: str) -> None:
    task = client.create_task(_steps(site_url))
    latest = _create(client, task["uid"], name="latest outputs", description="everything, newest run")
    tags = _create(
        client,
        task["uid"],
        source="all",
        fields=[
            {"from": TAG, "to": "tag"},
            {"from": "$run.uid", "to": "run"},
            {"from": "$run.metadata.tag", "to": "m"},
        ],
    )
    rows = _create(
        client,
        task["uid"],
        source="all",
        flatten=PEOPLE,
        fields=[{"from": f"{PEOPLE}.name", "to": "person"}, {"from": TAG, "to": "tag"}],
    )
    items = _create(client, task["uid"], flatten=PEOPLE)
    plucked = _create(
        client,
        task["uid"],
        fields=[{"from": f"{PEOPLE}.city", "to": "cities"}, {"from": f"{PEOPLE}.0.name", "to": "first"}],
    )
    assert latest["last_run_at"] is None and latest["description"] == "everything, newest run"
    assert _data(client, latest) == [] and _data(client, rows) == []  # no finished run yet

    first_tag, second_tag = f"a{uuid.uuid4().hex[:6]}", f"b{uuid.uuid4().hex[:6]}"
    first = _run(client, task["uid"], site_url, first_tag)
    second = _run(client, task["uid"], site_url, second_tag)
    people = second["outputs"][PEOPLE]
    assert [p["name"] for p in people][:2] == ["Alice Johnson", "Bob Smith"] and len(people) == 5
    # a failed run is not in any feed
    failed = client.run_task(task["uid"], steps=[{"uid": "tag", "config": {"code": "throw new Error('x')"}}])
    assert failed["status"] == "failed"

    assert _data(client, latest) == [second["outputs"]]
    assert _data(client, tags) == [
        {"tag": second_tag, "run": second["uid"], "m": second_tag.upper()},
        {"tag": first_tag, "run": first["uid"], "m": first_tag.upper()},
    ]
    assert _data(client, rows) == [
        *({"person": p["name"], "tag": second_tag} for p in people),
        *({"person": p["name"], "tag": first_tag} for p in first["outputs"][PEOPLE]),
    ]
    assert _data(client, items) == people
    assert _data(client, plucked) == [{"cities": [p["city"] for p in people], "first": "Alice Johnson"}]

    listed = client.http.get("/v1/feeds")
    assert listed.status_code == 200
    by_uid = {f["uid"]: f for f in listed.json()}
    assert set(by_uid) == {latest["uid"], tags["uid"], rows["uid"], items["uid"], plucked["uid"]}
    shown = by_uid[rows["uid"]]
    assert shown["task"] == task["uid"] and shown["source"] == "all" and shown["flatten"] == PEOPLE
    assert shown["fields"] == [{"from": f"{PEOPLE}.name", "to": "person"}, {"from": TAG, "to": "tag"}]
    assert shown["last_run_at"] is not None and shown["last_run_at"].endswith("Z")
    via_url = client.http.get(shown["url"])  # the feed object's url is the data endpoint
    assert via_url.status_code == 200 and len(via_url.json()["data"]) == 10


def test_validation_delete_and_other_projects(
    harness: FleetHarness, aserver: RunningServer, client: Automations, site_url: str
) -> None:
    task = client.create_task(_steps(site_url))

    bad_from = client.http.post(
        f"/v1/tasks/{task['uid']}/feeds", json={"name": "x", "fields": [{"from": "nope_go.x", "to": "y"}]}
    )
    assert bad_from.status_code == 400
    assert (
        bad_from.json()["details"][0]["field"] == "fields[0].from" and "nope_go" in bad_from.json()["message"]
    )
    bad_flatten = client.http.post(
        f"/v1/tasks/{task['uid']}/feeds", json={"name": "x", "flatten": "open_go2"}
    )
    assert bad_flatten.status_code == 400 and bad_flatten.json()["details"][0]["field"] == "flatten"
    bad_source = client.http.post(f"/v1/tasks/{task['uid']}/feeds", json={"name": "x", "source": "some"})
    assert bad_source.status_code == 400 and "source" in bad_source.json()["message"]
    twice = [{"from": TAG, "to": "t"}, {"from": "$run.uid", "to": "t"}]
    dup = client.http.post(f"/v1/tasks/{task['uid']}/feeds", json={"name": "x", "fields": twice})
    assert dup.status_code == 400 and dup.json()["details"][0]["field"] == "fields[1].to"
    no_task = client.http.post("/v1/tasks/missing/feeds", json={"name": "x"})
    assert no_task.status_code == 404 and no_task.json() == {"message": "Task not found"}

    feed = _create(client, task["uid"])
    other = Automations(aserver, harness.new_key(aserver))
    try:
        theirs = other.http.get(f"/v1/tasks/{task['uid']}/feeds/{feed['uid']}")
        assert theirs.status_code == 404 and theirs.json() == {"message": "Feed not found"}
        assert other.http.delete(f"/v1/tasks/{task['uid']}/feeds/{feed['uid']}").status_code == 404
        assert other.http.get("/v1/feeds").json() == []
        assert other.http.post(f"/v1/tasks/{task['uid']}/feeds", json={"name": "x"}).status_code == 404
    finally:
        other.close()
    assert httpx.get(f"{aserver.url}/v1/feeds").status_code == 401

    gone = client.http.delete(f"/v1/tasks/{task['uid']}/feeds/{feed['uid']}")
    assert gone.status_code == 204
    assert client.http.get(f"/v1/tasks/{task['uid']}/feeds/{feed['uid']}").status_code == 404
    assert client.http.get("/v1/feeds").json() == []
