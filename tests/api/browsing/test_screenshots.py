"""Screenshot modes: the right number of PNG files per mode, served per task, full page vs
viewport, and gone after the retention purge."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta

import pytest

from browserfleet.core.jobs import utcnow
from browserfleet.core.retention import purge
from tests.support.browsing import Browsing
from tests.support.fleet import FleetHarness, RunningServer
from tests.support.llm_standin import LLMStandIn, Reply, Seen, call
from tests.support.render_client import PNG_MAGIC, png_size

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browsing")]
VIEWPORT = (1280, 720)


def cart_model(site_url: str, tag: str) -> Callable[[Seen], Reply]:
    """4 steps: open the shop (navigation), add the first product (no navigation), follow
    "View cart" (navigation), answer with the cart (no navigation)."""

    def reply(seen: Seen) -> Reply:
        state = seen.last_user_text()
        if "Current page: about:blank" in state:
            return call("navigate", url=f"{site_url}/shop?t={tag}")
        if "Your cart" in state and "/shop/cart-page" in state.split("Title:")[0]:
            return call("done", success=True, result=state.rsplit("\n", 2)[-2].strip())
        if "Added " in state:
            return call("click", index=seen.index_of("View cart"))
        return call("click", index=seen.index_of("Desk Lamp"))

    return reply


def run_cart_task(
    client: Browsing, llm: LLMStandIn, site_url: str, screenshots: dict[str, object]
) -> dict[str, object]:
    tag = uuid.uuid4().hex[:8]
    llm.play(cart_model(site_url, tag))
    done = client.run(
        task="Add a desk lamp to the cart and tell me what the cart holds", screenshots=screenshots
    )
    assert done["status"] == "completed", done
    assert done["payload"] == "Desk Lamp"
    return done


def run_shop_visit(
    client: Browsing, llm: LLMStandIn, site_url: str, screenshots: dict[str, object]
) -> dict[str, object]:
    llm.play([call("navigate", url=f"{site_url}/shop"), call("done", success=True, result="Not signed in")])
    done = client.run(task="Am I signed in at the shop?", screenshots=screenshots)
    assert done["status"] == "completed", done
    return done


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("every_step", ["step-001.png", "step-002.png", "step-003.png", "step-004.png"]),
        ("on_navigation", ["step-001.png", "step-003.png"]),
    ],
)
def test_step_modes(client: Browsing, llm: LLMStandIn, site_url: str, mode: str, expected: list[str]) -> None:
    done = run_cart_task(client, llm, site_url, {"mode": mode})
    info = done["info"]
    assert info["screenshots"] == expected  # type: ignore[index]
    assert [s["screenshot"] for s in info["steps"] if s["screenshot"]] == expected  # type: ignore[index]
    for name in expected:
        shot = client.screenshot(str(done["task_id"]), name)
        assert shot.status_code == 200 and shot.headers["content-type"] == "image/png"
        assert shot.content[:8] == PNG_MAGIC and png_size(shot.content) == VIEWPORT


def test_final_only_full_page_and_viewport(
    harness: FleetHarness, bserver: RunningServer, client: Browsing, llm: LLMStandIn, site_url: str
) -> None:
    # the task ends on the shop, a page taller than the viewport
    full = run_shop_visit(client, llm, site_url, {"mode": "final_only"})  # full_page defaults to true
    viewport = run_shop_visit(client, llm, site_url, {"mode": "final_only", "full_page": False})
    assert full["info"]["screenshots"] == viewport["info"]["screenshots"] == ["final.png"]  # type: ignore[index]
    full_png = client.screenshot(str(full["task_id"]), "final.png")
    viewport_png = client.screenshot(str(viewport["task_id"]), "final.png")
    assert png_size(viewport_png.content) == VIEWPORT
    width, height = png_size(full_png.content)
    assert width == VIEWPORT[0] and height > VIEWPORT[1]

    # unknown names are 404; after the retention purge (5 days) so is the screenshot
    assert client.screenshot(str(full["task_id"]), "step-001.png").status_code == 404
    fleet = bserver.fleet
    harness.run(
        purge(
            fleet.store, fleet.blobs, now=utcnow() + timedelta(days=5, hours=1), retention=timedelta(days=365)
        )
    )
    gone = client.screenshot(str(full["task_id"]), "final.png")
    assert gone.status_code == 404 and gone.json() == {"error": "Screenshot not found"}
    assert client.status(str(full["task_id"]))["payload"] == "Not signed in"  # the task itself stays
