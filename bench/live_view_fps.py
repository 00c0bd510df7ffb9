"""Live view frame rate: frames the viewer draws per second on a page that repaints all the time.

Starts the test site and a real ``browserfleet serve`` (render_throughput.py's helpers), creates a
session with the official ``browserbase`` SDK, drives it with Playwright over ``connect_url`` to the
site's ``/live-view?animate=1`` (a box repainted every animation frame), then opens the session's
``debuggerFullscreenUrl`` in a separate headless Chromium (the viewer, 1280x760) and counts, over
``--seconds``:

* frames drawn on the viewer's canvas per second (``window.__liveView.frames``), frames received,
  mean frame size;
* the session page's own animation frames per second (its ``#ticker`` count): the screencast can
  never beat it, and on a busy machine both fall together (notes/chromium.md section 3).

    .venv/bin/python bench/live_view_fps.py [--seconds 10] [--json]
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from typing import Any

from browserbase import Browserbase
from playwright.sync_api import Page, sync_playwright
from render_throughput import BenchError, _terminate, loadavg, log, start_server, start_site, workspace

from browserfleet.settings import CHROMIUM_FLAGS

HEADLESS_SHELL = "/usr/lib/chromium/chromium-headless-shell"
WARMUP_S = 2.0


def counters(viewer: Page, page: Page) -> dict[str, float]:
    state = viewer.evaluate(
        "({frames: __liveView.frames, received: __liveView.received, bytes: __liveView.bytes})"
    )
    return {**state, "ticks": float(page.text_content("#ticker") or 0), "at": time.perf_counter()}


def measure(base_url: str, key: str, site_url: str, seconds: float) -> dict[str, Any]:
    client = Browserbase(api_key=key, base_url=base_url, max_retries=0)
    session = client.sessions.create()
    with sync_playwright() as pw:
        browser = pw.chromium.connect_over_cdp(session.connect_url)
        viewer_browser = pw.chromium.launch(executable_path=HEADLESS_SHELL, args=list(CHROMIUM_FLAGS))
        try:
            page = browser.contexts[0].pages[0]
            page.goto(f"{site_url}/live-view?animate=1")
            viewer = viewer_browser.new_page(viewport={"width": 1280, "height": 760})
            viewer.goto(client.sessions.debug(session.id).debugger_fullscreen_url)
            time.sleep(WARMUP_S)
            start = counters(viewer, page)
            if not start["frames"]:
                raise BenchError("the viewer drew no frame during the warm-up")
            time.sleep(seconds)
            end = counters(viewer, page)
        finally:
            viewer_browser.close()
            browser.close()
    elapsed = end["at"] - start["at"]
    received = end["received"] - start["received"]
    return {
        "seconds": round(elapsed, 2),
        "viewerFps": round((end["frames"] - start["frames"]) / elapsed, 1),
        "receivedFps": round(received / elapsed, 1),
        "pageFps": round((end["ticks"] - start["ticks"]) / elapsed, 1),
        "meanFrameKB": round((end["bytes"] - start["bytes"]) / max(1, received) / 1024, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="measured window (default 10)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON at the end")
    args = parser.parse_args(argv)
    # for render_throughput.start_server: default project, no profiler, no extra environment
    args.concurrency, args.server_profile, args.server_env = 10, None, []
    signal.signal(signal.SIGTERM, _terminate)
    try:
        with workspace() as (stack, tmp):
            log("starting the test site and the browserfleet server ...")
            _, site_url = start_site(stack, tmp)
            _, base_url, key = start_server(stack, tmp, tmp / "data", args)
            load_before = loadavg()
            out = measure(base_url, key, site_url, args.seconds)
            out["loadavg"] = {"before": load_before, "after": loadavg()}
    except BenchError as exc:
        log(f"error: {exc}")
        return 2
    except KeyboardInterrupt:
        log("interrupted; subprocesses stopped")
        return 130
    print(
        f"live view over {out['seconds']} s: viewer {out['viewerFps']} fps drawn "
        f"({out['receivedFps']} received, {out['meanFrameKB']} KB/frame); "
        f"the page itself {out['pageFps']} fps; load {out['loadavg']['before']} -> {out['loadavg']['after']}"
    )
    if args.json:
        print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
