"""Runs of automation tasks through the API on real Chromium against the local test site:
outputs equal what the site shows, files are real PNG / PDF / MP4, overrides, skip, iterate, and
a failing step that names itself and keeps the outputs before it."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.support.automations import PDF_MAGIC, Automations, ffprobe, pdf_page_count
from tests.support.render_client import PNG_MAGIC, png_size

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("automations")]


def _search_steps(site_url: str, tag: str, query: str) -> list[dict[str, Any]]:
    return [
        {"uid": "open", "action": "go", "config": {"url": f"{site_url}/catalog?t={tag}"}},
        {"uid": "typeq", "action": "enter_text", "config": {"selector": "#catalog-q", "text": query}},
        {"uid": "submit", "action": "click", "config": {"selector": "#catalog-go"}},
        {"uid": "results", "action": "wait_for_element", "config": {"selector": "#catalog-results"}},
        {"uid": "summary", "action": "save_text", "config": {"selector": "#catalog-summary"}},
        {
            "uid": "skus",
            "action": "save_attribute",
            "config": {"selector": "div.item", "attribute": "data-sku", "all": True},
        },
        {
            "uid": "items",
            "action": "save_structured_data",
            "config": {
                "parent_selector": "div.item",
                "fields": [
                    {"name": "title", "selector": "a.item-link"},
                    {"name": "link", "selector": "a.item-link", "attribute": "href"},
                    {"name": "price", "selector": ".price"},
                ],
            },
        },
        {"uid": "shot", "action": "take_screenshot", "config": {}},
        {"uid": "doc", "action": "save_pdf"},
    ]


def _expected_items(query: str, tag: str) -> list[dict[str, str]]:
    return [
        {"title": f"{query} item {i}", "link": f"/catalog/item/{i}?t={tag}", "price": f"${i * 5}.00"}
        for i in range(1, 4)
    ]


def test_search_task_outputs_files_and_video(client: Automations, site_url: str) -> None:
    tag, query = uuid.uuid4().hex[:8], f"lamp-{uuid.uuid4().hex[:4]}"
    task = client.create_task(_search_steps(site_url, tag, query), viewport_width=800, viewport_height=600)
    started = client.start_run(task["uid"], metadata={"order": 42})
    assert started["status"] == "running" and started["task"] == task["uid"]
    assert started["video_url"] is None and started["finished_in_seconds"] is None

    run = client.wait_run(task["uid"], started["uid"])

    assert run["status"] == "finished", run["error"]
    assert run["error"] is None and run["metadata"] == {"order": 42}
    assert type(run["finished_in_seconds"]) is int and run["finished_in_seconds"] > 0
    outputs = run["outputs"]
    assert outputs["summary_save_text"] == f"3 results for {query}"
    assert outputs["skus_save_attribute"] == ["CAT-1", "CAT-2", "CAT-3"]
    assert outputs["items_save_structured_data"] == _expected_items(query, tag)
    assert set(outputs) == {
        "summary_save_text",
        "skus_save_attribute",
        "items_save_structured_data",
        "shot_take_screenshot",
        "doc_save_pdf",
    }
    # the steps as run, each with its output
    by_uid = {s["uid"]: s for s in run["steps"]}
    assert [s["uid"] for s in run["steps"]] == [s["uid"] for s in task["steps"]]
    assert by_uid["summary"]["output"] == outputs["summary_save_text"]
    assert "output" not in by_uid["open"]

    shot = client.fetch(outputs["shot_take_screenshot"])
    assert shot.status_code == 200 and shot.headers["content-type"] == "image/png"
    assert shot.content[:8] == PNG_MAGIC and png_size(shot.content) == (800, 600)

    pdf = client.fetch(outputs["doc_save_pdf"])
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(PDF_MAGIC) and pdf_page_count(pdf.content) >= 1
    assert b"/MediaBox [0 0 595" in pdf.content  # A4 portrait, in points

    video = client.fetch(run["video_url"])
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
    probed = ffprobe(video.content)
    assert float(probed["format"]["duration"]) > 0
    stream = probed["streams"][0]
    assert stream["codec_name"] == "h264" and (stream["width"], stream["height"]) == (800, 600)

    # the file URLs are signed: a changed signature is refused
    forged = httpx.get(outputs["shot_take_screenshot"][:-4] + "0000", timeout=10)
    assert forged.status_code == 404 and forged.json() == {"message": "File not found"}


def test_override_changes_go_url_and_skip_skips_a_step(client: Automations, site_url: str) -> None:
    task = client.create_task(
        [
            {"uid": "open", "action": "go", "config": {"url": f"{site_url}/click"}},
            {"uid": "reveal", "action": "click", "config": {"selector": "#reveal"}},
            {"uid": "title", "action": "save_text", "config": {"selector": "h1"}},
            {"uid": "code", "action": "run_javascript", "config": {"code": "return location.pathname"}},
        ]
    )
    default = client.run_task(task["uid"])
    assert default["status"] == "finished", default["error"]
    assert default["outputs"]["code_run_javascript"] == "/click"

    # the override's config keys win; skip keeps the step in the run but does not run it (the
    # /structured page has no #reveal: running it would fail the run)
    run = client.run_task(
        task["uid"],
        steps=[
            {"uid": "open", "action": "go", "config": {"url": f"{site_url}/structured"}},
            {"uid": "reveal", "action": "click", "config": {}, "skip": True},
        ],
    )
    assert run["status"] == "finished", run["error"]
    assert run["outputs"]["code_run_javascript"] == "/structured"
    assert run["outputs"]["title_save_text"] == "Structured data"
    steps = {s["uid"]: s for s in run["steps"]}
    assert steps["open"]["config"]["url"] == f"{site_url}/structured"
    assert steps["reveal"]["skip"] is True
    # the task itself is unchanged
    assert client.http.get(f"/v1/tasks/{task['uid']}").json()["steps"] == task["steps"]


def test_iterate_visits_every_link_save_links_found(
    client: Automations, site_url: str, site_server: Any
) -> None:
    tag = uuid.uuid4().hex[:8]
    task = client.create_task(
        [
            *_search_steps(site_url, tag, "chair")[:4],
            {"uid": "links", "action": "save_links", "config": {"selector": "a.item-link"}},
            {"uid": "visit", "action": "go", "iterate": True},
            {"uid": "titles", "action": "save_text", "config": {"selector": "#item-title"}},
        ]
    )
    run = client.run_task(task["uid"])
    assert run["status"] == "finished", run["error"]

    links = run["outputs"]["links_save_links"]
    assert links == [f"{site_url}/catalog/item/{i}?t={tag}" for i in range(1, 4)]
    visits = httpx.get(f"{site_url}/catalog/visits", params={"t": tag}, timeout=10).json()
    assert visits["items"] == {"1": 1, "2": 1, "3": 1}
    # the page after the iteration is the last link's
    assert run["outputs"]["titles_save_text"] == "Item 3"


def test_failing_step_fails_the_run_naming_it_and_keeps_earlier_outputs(
    client: Automations, site_url: str
) -> None:
    task = client.create_task(
        [
            {"uid": "open", "action": "go", "config": {"url": f"{site_url}/structured"}},
            {"uid": "first", "action": "save_text", "config": {"selector": "tr.person td.name"}},
            {"uid": "shot", "action": "take_screenshot"},
            {"uid": "missing", "action": "wait_for_element", "config": {"selector": "#nope", "timeout": 500}},
            {"uid": "never", "action": "save_text", "config": {"selector": "h1"}},
        ]
    )
    run = client.run_task(task["uid"])
    assert run["status"] == "failed"
    error = run["error"]
    assert error["step"] == "missing" and error["code"] == "WAIT_TIMEOUT"
    assert error["message"].startswith("step 4 (uid missing, wait_for_element) failed:")
    assert "#nope" in error["message"]
    assert set(run["outputs"]) == {"first_save_text", "shot_take_screenshot"}
    assert run["outputs"]["first_save_text"] == "Alice Johnson"
    shot = client.fetch(run["outputs"]["shot_take_screenshot"])
    assert shot.status_code == 200 and shot.content[:8] == PNG_MAGIC
    video = client.fetch(run["video_url"])
    assert float(ffprobe(video.content)["format"]["duration"]) > 0


def test_files_pages_and_records_iteration(client: Automations, site_url: str) -> None:
    """download_file (a click), upload_file (from a URL), save_image, save_html, go_back, and an
    iterated step bound to each record of save_structured_data (``{{item.field}}``)."""
    from tests.site.app import REPORT_CSV

    tag = uuid.uuid4().hex[:8]
    task = client.create_task(
        [
            {"uid": "dl", "action": "go", "config": {"url": f"{site_url}/download"}},
            {"uid": "file", "action": "download_file", "config": {"selector": "#download-link"}},
            {"uid": "up", "action": "go", "config": {"url": f"{site_url}/upload"}},
            {
                "uid": "put",
                "action": "upload_file",
                "config": {"selector": "#file", "url": f"{site_url}/files/report.csv"},
            },
            {"uid": "info", "action": "save_text", "config": {"selector": "#file-info"}},
            {"uid": "img", "action": "go", "config": {"url": f"{site_url}/images?t={tag}"}},
            {"uid": "pix", "action": "save_image", "config": {"selector": "img.pixel"}},
            {"uid": "back", "action": "go_back"},
            {"uid": "where", "action": "run_javascript", "config": {"code": "return location.pathname"}},
            {"uid": "page", "action": "save_html", "config": {"selector": "body"}},
            *_search_steps(site_url, tag, "desk")[:4],
            {
                "uid": "rows",
                "action": "save_structured_data",
                "config": {
                    "parent_selector": "div.item",
                    "fields": [{"name": "link", "selector": "a", "attribute": "href"}],
                },
            },
            {
                "uid": "each",
                "action": "go",
                "iterate": True,
                "config": {"url": f"{site_url}{{{{item.link}}}}"},
            },
            {"uid": "bad", "action": "click", "iterate": True, "config": {"selector": "{{item}}"}},
        ]
    )
    run = client.run_task(task["uid"])
    outputs = run["outputs"]

    csv = client.fetch(outputs["file_download_file"])
    assert csv.status_code == 200 and csv.text == REPORT_CSV
    assert outputs["info_save_text"] == f"report.csv ({len(REPORT_CSV)} bytes)"
    image = client.fetch(outputs["pix_save_image"])
    assert image.headers["content-type"] == "image/png" and png_size(image.content) == (1, 1)
    assert outputs["where_run_javascript"] == "/upload"
    # back on /upload, reloaded (no-store): the file input is empty again
    assert "<h1>Upload</h1>" in outputs["page_save_html"]
    assert '<div id="file-info"></div>' in outputs["page_save_html"]
    visits = httpx.get(f"{site_url}/catalog/visits", params={"t": tag}, timeout=10).json()
    assert visits["items"] == {"1": 1, "2": 1, "3": 1}
    # the iterated go has no output, so the next iterated step has no list to go over
    assert run["status"] == "failed"
    assert run["error"]["step"] == "bad" and run["error"]["code"] == "STEP_FAILED"
    assert "previous step's output is not a list" in run["error"]["message"]


def test_without_ffmpeg_the_run_finishes_with_no_video(
    harness: Any, site_url: str, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    server = harness.server(ffmpeg_path=tmp_path / "no-ffmpeg")
    try:
        client = Automations(server, harness.new_key(server))
        task = client.create_task(
            [
                {"uid": "open", "action": "go", "config": {"url": f"{site_url}/structured"}},
                {"uid": "title", "action": "save_text", "config": {"selector": "h1"}},
            ]
        )
        run = client.run_task(task["uid"])
        client.close()
    finally:
        harness.stop_server(server)
    assert run["status"] == "finished", run["error"]
    assert run["outputs"] == {"title_save_text": "Structured data"}
    assert run["video_url"] is None
    logged = capsys.readouterr().out
    assert "video.ffmpeg_unavailable" in logged and "no-ffmpeg" in logged


def test_the_egress_policy_applies_to_runs(harness: Any, site_url: str) -> None:
    """A server whose egress policy does not allow the test site (127.0.0.1): the go step fails."""
    server = harness.server(egress_allow=[])
    try:
        client = Automations(server, harness.new_key(server))
        task = client.create_task(
            [
                {"uid": "calc", "action": "run_javascript", "config": {"code": "return 6 * 7"}},
                {"uid": "open", "action": "go", "config": {"url": f"{site_url}/structured"}},
                {"uid": "title", "action": "save_text", "config": {"selector": "h1"}},
            ]
        )
        run = client.run_task(task["uid"])
        client.close()
    finally:
        harness.stop_server(server)
    assert run["status"] == "failed"
    assert run["error"]["code"] == "EGRESS_BLOCKED" and run["error"]["step"] == "open"
    assert run["error"]["message"].startswith("step 2 (uid open, go) failed: egress to 127.0.0.1")
    assert run["outputs"] == {"calc_run_javascript": 42}


def test_keypress_hover_scroll_and_wait(client: Automations, site_url: str) -> None:
    """The form is submitted with Enter (keypress) instead of a click."""
    tag = uuid.uuid4().hex[:8]
    task = client.create_task(
        [
            {"uid": "open", "action": "go", "config": {"url": f"{site_url}/catalog?t={tag}"}},
            {"uid": "typeq", "action": "enter_text", "config": {"selector": "#catalog-q", "text": "sofa"}},
            {"uid": "enter", "action": "keypress", "config": {"key": "Enter", "selector": "#catalog-q"}},
            {"uid": "pause", "action": "wait", "config": {"duration": 0.5}},
            {"uid": "hover", "action": "hover", "config": {"selector": "a.item-link"}},
            {"uid": "down", "action": "scroll", "config": {"direction": "bottom"}},
            {"uid": "y", "action": "run_javascript", "config": {"code": "return document.activeElement.id"}},
            {"uid": "n", "action": "save_text", "config": {"selector": "#catalog-summary"}},
        ]
    )
    run = client.run_task(task["uid"])
    assert run["status"] == "finished", run["error"]
    assert run["outputs"] == {"y_run_javascript": "catalog-q", "n_save_text": "3 results for sofa"}
