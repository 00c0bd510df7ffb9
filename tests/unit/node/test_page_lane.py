"""The render's page lane (node/cdp_page.py, node/cdp_waits.py) against the Playwright lane: the
same waits end the same way, the same render gives the same result, and renders go to the lane
that can run them."""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator
from typing import Any

import pytest

from browserfleet.core.errors import ErrorCode, JobFailure
from browserfleet.core.renders.spec import RenderSpec
from browserfleet.node.egress import EgressProxy
from browserfleet.node.pool import BrowserPool
from browserfleet.node.render import RenderExecutor, page_lane
from tests.unit.node.test_warm_contexts import job

pytestmark = pytest.mark.browser


@pytest.fixture
async def renders(pool: BrowserPool, egress: EgressProxy) -> AsyncIterator[RenderExecutor]:
    executor = RenderExecutor(pool, egress, 30)
    yield executor
    await executor.close()


def wait(selector: str, state: str = "visible", timeout_ms: int = 3000) -> dict[str, Any]:
    return {"action": "wait_for_selector", "selector": selector, "state": state, "timeout_ms": timeout_ms}


async def outcome(renders: RenderExecutor, url: str, *waits: dict[str, Any]) -> str:
    """``ok``, or the error code the render failed with."""
    try:
        await renders.run(job(url, None, wait_for=list(waits)))
    except JobFailure as failure:
        return failure.code.value
    return "ok"


@pytest.mark.parametrize(
    ("selector", "state", "expected"),
    [
        ("#veiled", "visible", "ok"),  # visibility:hidden, shown after 300 ms
        ("#flat", "visible", "WAIT_TIMEOUT"),  # an empty box is not visible
        ("#flat", "hidden", "ok"),
        ("#contents", "visible", "ok"),  # display:contents: visible through its child
        ("#empty-contents", "visible", "WAIT_TIMEOUT"),
        ("#empty-contents", "hidden", "ok"),
        ("#inside", "attached", "ok"),  # in an open shadow root, added after 300 ms
        ("#inside", "visible", "ok"),
        ("#missing", "detached", "ok"),
        ("h1", "detached", "WAIT_TIMEOUT"),
        ("h1:no-such-pseudo", "attached", "INVALID_SELECTOR"),  # the browser refuses it
    ],
)
async def test_a_wait_ends_as_it_does_through_playwright(
    renders: RenderExecutor, site_url: str, selector: str, state: str, expected: str
) -> None:
    url = f"{site_url}/visibility?ms=300"
    on_page_lane = wait(selector, state, timeout_ms=1500)
    through_playwright = wait(f"css={selector}", state, timeout_ms=1500)  # Playwright's own engine
    assert page_lane(RenderSpec(url=url, wait_for=[on_page_lane]))  # type: ignore[list-item]
    assert not page_lane(RenderSpec(url=url, wait_for=[through_playwright]))  # type: ignore[list-item]
    assert await outcome(renders, url, on_page_lane) == expected
    assert await outcome(renders, url, through_playwright) == expected


async def test_both_lanes_give_the_same_result(renders: RenderExecutor, site_url: str) -> None:
    url = f"{site_url}/visibility?ms=100"
    page = await renders.run(job(url, None, wait_for=[wait("#inside", "attached")]))
    playwright = await renders.run(job(url, None, wait_for=[wait("css=#inside", "attached")]))
    html = gzip.decompress(page.blobs["html.gz"]).decode()
    assert 'data-shown="yes"' in html
    assert html == gzip.decompress(playwright.blobs["html.gz"]).decode()
    same = ("title", "finalUrl", "loadStrategy", "selectedCity", "fetchCount", "screenshotFormat")
    assert {k: page.result[k] for k in same} == {k: playwright.result[k] for k in same}
    assert page.result["title"] == "Visibility" and page.result["finalUrl"] == url


async def test_a_page_that_opens_dialogs_still_renders(renders: RenderExecutor, site_url: str) -> None:
    """Dialogs nobody handles are dismissed, as Playwright does: the page goes on loading."""
    url = f"{site_url}/dialogs"
    page = await renders.run(job(url, None, wait_for=[wait("#after")]))
    playwright = await renders.run(job(url, None, wait_for=[wait("css=#after")]))
    html = gzip.decompress(page.blobs["html.gz"]).decode()
    assert 'data-confirmed="false"' in html and 'data-prompted="null"' in html
    assert html == gzip.decompress(playwright.blobs["html.gz"]).decode()


async def test_a_text_wait_and_a_script_run_on_the_page_lane(renders: RenderExecutor, site_url: str) -> None:
    text = {"action": "wait_for_text", "text": "In Stock", "timeout_ms": 5000}
    script = {"action": "evaluate", "expression": "document.body.dataset.seen = document.title"}
    done = await renders.run(job(f"{site_url}/text-later?ms=300", None, wait_for=[text, script]))
    html = gzip.decompress(done.blobs["html.gz"]).decode()
    assert "In Stock" in html and f'data-seen="{done.result["title"]}"' in html
    late = {"action": "wait_for_text", "text": "never there", "timeout_ms": 300}
    assert await outcome(renders, f"{site_url}/text-later?ms=300", late) == ErrorCode.WAIT_TIMEOUT.value


# what a client could send hoping the lane pastes it into the page's script: quotes, brackets, a
# line separator JavaScript takes as a line end, a comment
HOSTILE = '"]);document.body.dataset.pwned="yes";//\u2028\'"`${1}'


async def test_a_clients_selector_and_text_reach_the_page_as_data_only(
    renders: RenderExecutor, site_url: str
) -> None:
    url = f"{site_url}/visibility?ms=0"
    quoted = HOSTILE.replace("\\", "\\\\").replace("'", "\\'")
    selector = f"h1, [title='{quoted}']"
    text = {"action": "wait_for_text", "text": "Visibility", "selector": selector, "timeout_ms": 3000}
    seen = {
        "action": "evaluate",
        "expression": "document.body.dataset.seen = String(document.body.dataset.pwned)",
    }
    done = await renders.run(job(url, None, wait_for=[wait(selector, "attached"), text, seen]))
    assert 'data-seen="undefined"' in gzip.decompress(done.blobs["html.gz"]).decode()
    absent = {"action": "wait_for_text", "text": HOSTILE, "timeout_ms": 300}
    assert await outcome(renders, url, absent) == ErrorCode.WAIT_TIMEOUT.value  # looked for, never run


@pytest.mark.parametrize(
    ("spec", "lane"),
    [
        ({}, True),
        ({"wait_for": [{"action": "delay", "duration_ms": 10}]}, True),
        ({"wait_for": [{"action": "wait_for_selector", "selector": "div.a > span"}]}, True),
        ({"wait_for": [{"action": "wait_for_selector", "selector": "text=Buy"}]}, False),
        ({"wait_for": [{"action": "wait_for_selector", "selector": "li:has-text('x')"}]}, False),
        ({"wait_for": [{"action": "click", "selector": "#buy"}]}, False),
        ({"captcha": "auto"}, False),
        ({"screenshot": {"format": "png"}}, False),
        ({"fetch_urls": ["http://127.0.0.1/x"]}, False),
    ],
)
def test_renders_go_to_the_lane_that_runs_them(spec: dict[str, Any], lane: bool) -> None:
    assert page_lane(RenderSpec.model_validate({"url": "http://127.0.0.1/", **spec})) is lane
