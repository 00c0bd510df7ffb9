"""Browsing tasks in distributed mode: created on the control plane, run by the agent on node
processes (which call the model stand-in), with Redis carrying tickets and events and PostgreSQL
the tasks.

- A task is solved on a node through real clicks on the test shop; its status, payload and node
  come back through the control plane; ``filter.node_uid`` runs it on that node.
- ``fanout: 3`` races three node processes: the first attempt wins, the other two (held by the
  model stand-in, so still running) end cancelled, and their nodes stop them at once (the
  ``cancel`` events reached them over Redis: their slots are free long before the model answers).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest

from tests.distributed.conftest import Cluster
from tests.site import shop
from tests.support.browsing import Browsing, race_model, shop_model
from tests.support.cluster import admin_nodes
from tests.support.llm_standin import LLMStandIn

pytestmark = [pytest.mark.browser, pytest.mark.postgres, pytest.mark.xdist_group("distributed")]
HOLD_S = 25  # the losing attempts' model answer: far longer than the test waits for their nodes


@pytest.fixture
def llm(cluster_llm: LLMStandIn) -> Iterator[LLMStandIn]:
    cluster_llm.play([])
    yield cluster_llm
    cluster_llm.release()


@pytest.fixture
def api(cluster: Cluster) -> Iterator[Browsing]:
    client = Browsing(cluster.control.url, cluster.new_key())
    yield client
    client.close()


def test_a_task_runs_on_a_node_process(
    cluster: Cluster, api: Browsing, llm: LLMStandIn, site_url: str
) -> None:
    tag = uuid.uuid4().hex[:8]
    llm.play(shop_model(site_url, tag))
    task_id = api.start(
        task=f"Open {site_url}/shop?t={tag}, find the price of the second product and add it to the cart",
        filter={"node_uid": "node-fr"},
    )
    done = api.wait(task_id, timeout_s=30)

    assert done["status"] == "completed" and done["success"] is True, done
    assert done["payload"] == "$24.50" and done["error"] is None
    assert shop.cart(tag) == ["MUG-2"]  # the node's browser clicked the button
    assert done["info"]["node_id"] == "node-fr"
    assert [[a["tool"] for a in step["actions"]] for step in done["info"]["steps"]] == [
        ["navigate"],
        ["click"],
        ["done"],
    ]
    assert len(llm.requests) == 3
    assert cluster.jobs([task_id])[task_id][:3] == ("completed", "node-fr", 1)


def in_use(cluster: Cluster, node_ids: set[str]) -> int:
    return sum(n["inUse"] for n in admin_nodes(cluster.control) if n["id"] in node_ids)


def test_fanout_first_success_wins_and_cancels_the_other_nodes(
    cluster: Cluster, api: Browsing, llm: LLMStandIn, site_url: str
) -> None:
    """The first attempt to ask the model gets to work once all three are running (its answer is
    held until the third asks); the other two wait ``HOLD_S`` for theirs, until their nodes
    cancel them."""
    reply, started = race_model(llm, site_url, losers_wait_s=HOLD_S)
    llm.play(reply)
    task_id = api.start(task="Race me", fanout=3)
    done = api.wait(task_id, timeout_s=30)
    finished = time.monotonic()

    assert done["status"] == "completed" and done["payload"] == "raced and won", done
    assert len(started) == 3  # all three attempts were running (each asked the model)
    attempts = done["info"]["attempts"]
    nodes = {a["node_id"] for a in attempts}
    assert len(nodes) == 3  # three distinct node processes
    assert sorted(a["status"] for a in attempts) == ["cancelled", "cancelled", "completed"]
    winner = next(a for a in attempts if a["status"] == "completed")
    assert done["info"]["node_id"] == winner["node_id"]

    ids = [task_id, *(f"{task_id}-{n}" for n in range(2, 4))]  # the attempts' jobs, in order
    jobs = cluster.jobs(ids)
    for job_id, attempt in zip(ids, attempts, strict=True):
        assert jobs[job_id][:2] == (attempt["status"], attempt["node_id"])
    # the losers' nodes stopped them while their model calls were still held: every slot of the
    # three nodes is free again (heartbeats every TTL/3) well before the model would answer
    while in_use(cluster, nodes) and time.monotonic() - finished < HOLD_S - 10:
        time.sleep(0.2)
    assert in_use(cluster, nodes) == 0
    assert time.monotonic() - finished < HOLD_S - 10
    assert len(llm.requests) == 4  # the winner's two; the losers asked nothing more
    assert cluster.jobs(ids) == jobs  # nothing changed the outcome afterwards
