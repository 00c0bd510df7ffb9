"""Browsing tasks end to end: a scripted model (the chat-completions stand-in) drives real Chromium
through the shared actions against the local shop; the site records the add-to-cart POST."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.site import shop
from tests.support.browsing import Browsing, EventLog, shop_model
from tests.support.fleet import FleetHarness, RunningServer
from tests.support.llm_standin import LLMStandIn, call

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browsing")]


def test_shop_task_is_solved_through_real_clicks(
    harness: FleetHarness, bserver: RunningServer, client: Browsing, llm: LLMStandIn, site_url: str
) -> None:
    tag = uuid.uuid4().hex[:8]
    llm.play(shop_model(site_url, tag, first_delay_s=1.0))
    events = EventLog(harness, bserver)
    try:
        task_id = client.start(
            task=f"Open {site_url}/shop?t={tag}, find the price of the second product and add it to the cart"
        )
        seen: list[str] = []
        done = client.wait(task_id, seen=seen)
    finally:
        events.close()

    assert done["status"] == "completed", done
    assert done["success"] is True and done["error"] is None
    assert done["payload"] == "$24.50"
    assert shop.cart(tag) == ["MUG-2"]  # the site saw the add-to-cart request
    assert events.states(task_id) == ["queued", "assigned", "running", "completed"]
    assert "running" in seen and seen[-1] == "completed"
    assert seen == [s for s in ["queued", "assigned", "running", "completed"] if s in seen]

    info = done["info"]
    assert [[a["tool"] for a in step["actions"]] for step in info["steps"]] == [
        ["navigate"],
        ["click"],
        ["done"],
    ]
    click = info["steps"][1]["actions"][0]
    assert click["ok"] is True and isinstance(click["index"], int)
    assert info["steps"][0]["url"] == "about:blank" and info["steps"][1]["url"].endswith(f"/shop?t={tag}")
    assert info["steps"][2]["actions"][0] == {
        "tool": "done",
        "success": True,
        "result": "$24.50",
        "ok": True,
        "error": None,
        "output": None,
        "ms": 0,
    }
    assert info["node_id"] in {n.labels.node_id for n in bserver.fleet.nodes}
    assert info["model"] == "scripted" and info["template"] == "default"
    assert info["screenshots"] == []
    assert info["timings"]["steps"] == 3 and info["timings"]["llm_ms"] >= 1000
    assert done["execution_time_ms"] >= 1000

    # what the model was shown: the tools, and the page with the products and their indexes
    first, second, third = llm.requests
    assert set(first.tool_names) == {
        "navigate",
        "click",
        "type",
        "select",
        "scroll",
        "press_key",
        "wait",
        "extract_text",
        "go_back",
        "new_tab",
        "switch_tab",
        "close_tab",
        "done",
    }
    assert first.body["tool_choice"] == "required" and first.body["model"] == "scripted"
    assert "Travel Mug — $24.50" in second.last_user_text()
    assert json.loads(second.messages[3]["tool_calls"][0]["function"]["arguments"]) == {
        "url": f"{site_url}/shop?t={tag}"
    }
    assert second.tool_results() == ["ok"]
    assert "Added Travel Mug to the cart (1 items)" in third.last_user_text()
    # earlier page states shrink to one line
    assert third.messages[2]["content"] == "(page state of step 1, at about:blank, omitted)"


def test_tabs_extract_text_and_back(client: Browsing, llm: LLMStandIn, site_url: str) -> None:
    llm.play(
        [
            call("navigate", url=f"{site_url}/shop/login?user=tabby"),
            call("new_tab", url=f"{site_url}/shop"),
            call("extract_text", index=None),
            call("switch_tab", index=0),
            call("close_tab"),
            call("close_tab"),  # the last one: the agent gets a blank tab
            call("go_back"),
            call("done", success=True, result="tabs ok"),
        ]
    )
    done = client.run(task="Juggle tabs")
    assert done["status"] == "completed" and done["payload"] == "tabs ok", done
    steps = done["info"]["steps"]
    assert all(a["ok"] for step in steps for a in step["actions"]), steps
    # the new tab became current, and extract_text read the signed-in shop (its text is the tool result)
    assert "[1] " in llm.requests[2].last_user_text() and "(current)" in llm.requests[2].last_user_text()
    read = steps[2]["actions"][0]["output"]
    assert read.startswith("Shop\n\nSigned in as tabby") and "Travel Mug — $24.50 Add to cart" in read
    assert llm.requests[3].tool_results()[-1] == f"ok: {read}"
    assert steps[3]["url_after"] == f"{site_url}/shop/login?user=tabby"  # back on tab 0
    assert steps[5]["url_after"] == "about:blank" and steps[6]["url_after"] == "about:blank"
