"""Helpers for Automations API tests: an httpx client for the Browserbear-style API (there is no
official SDK), run polling with the ``?wait=`` long-poll extension, projects with a quota, and
file checks (PDF, MP4 through ffprobe).
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from tests.support.fleet import FleetHarness, RunningServer

LONG_POLL_S = 30.0
PDF_MAGIC = b"%PDF-"


class Automations:
    """``Authorization: Bearer KEY`` client of one server."""

    def __init__(self, server: RunningServer, key: str) -> None:
        self.server = server
        self.http = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=60)

    def close(self) -> None:
        self.http.close()

    def create_task(self, steps: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
        response = self.http.post("/v1/tasks", json={"name": "test task", "steps": steps, **fields})
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    def start_run(self, task_uid: str, **body: Any) -> dict[str, Any]:
        response = self.http.post(f"/v1/tasks/{task_uid}/runs", json=body)
        assert response.status_code == 202, response.text
        run: dict[str, Any] = response.json()
        return run

    def wait_run(self, task_uid: str, run_uid: str, timeout_s: float = 90.0) -> dict[str, Any]:
        """The run once it is no longer ``running`` (long-polls, so few requests count against the
        rate limit)."""
        deadline = time.monotonic() + timeout_s
        while True:
            response = self.http.get(f"/v1/tasks/{task_uid}/runs/{run_uid}", params={"wait": LONG_POLL_S})
            assert response.status_code == 200, response.text
            run: dict[str, Any] = response.json()
            if run["status"] != "running":
                return run
            assert time.monotonic() < deadline, f"run {run_uid} still running after {timeout_s}s"

    def run_task(self, task_uid: str, **body: Any) -> dict[str, Any]:
        started = self.start_run(task_uid, **body)
        return self.wait_run(task_uid, started["uid"])

    def fetch(self, url: str) -> httpx.Response:
        """A file URL of a run (signed: fetched without the API key)."""
        return httpx.get(url, timeout=30)


def quota_key(harness: FleetHarness, server: RunningServer, quota: int) -> str:
    """A fresh project with a monthly quota of ``quota`` runs, and a key for it."""

    async def make() -> str:
        name = f"quota-{time.monotonic_ns()}"
        await server.fleet.accounts.create_project(name, quota=quota)
        return (await server.fleet.accounts.create_key(name)).key

    return harness.run(make())


def ffprobe(data: bytes) -> dict[str, Any]:
    """ffprobe's view of a media file: ``{"format": {...}, "streams": [...]}``."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "video.mp4"
        path.write_bytes(data)
        out = subprocess.run(
            ["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams", str(path)],
            capture_output=True,
            check=True,
            timeout=30,
        )
    probed: dict[str, Any] = json.loads(out.stdout)
    return probed


def pdf_page_count(data: bytes) -> int:
    """Pages of a PDF as Chromium writes it (one ``/Type /Page`` object per page)."""
    return data.count(b"/Type /Page") - data.count(b"/Type /Pages")
