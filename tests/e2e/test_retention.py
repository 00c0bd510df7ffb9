"""Retention on a real server: blobs go after the API window (24 h) or, with ``debug``, after
7 days; job records go after ``retention_days`` (365). Time is moved by rewriting the jobs'
timestamps in the database, then the purge runs once (in the server, last via ``browserfleet purge``).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from browserfleet.store.models import JobRow
from browserfleet.store.records import JobRecord
from tests.support.e2e import RenderApi, decode_html, run_cli
from tests.support.fleet import FleetHarness, RunningServer

pytestmark = pytest.mark.browser


def _blob_files(server: RunningServer, render_id: str) -> set[str]:
    folder: Path = server.settings.blob_dir / render_id[-2:] / render_id
    return {p.name for p in folder.iterdir()} if folder.is_dir() else set()


def _job(harness: FleetHarness, server: RunningServer, render_id: str) -> JobRecord | None:
    return harness.run(server.fleet.store.get_job(render_id))


def _age(harness: FleetHarness, server: RunningServer, render_ids: list[str], by: timedelta) -> None:
    """Move the jobs' creation and finish times ``by`` into the past, and forget the answers the
    server keeps of finished results (api/finished.py): real time would have expired them."""

    async def rewrite() -> None:
        async with server.fleet.store.engine.begin() as conn:
            for render_id in render_ids:
                job = await server.fleet.store.get_job(render_id)
                assert job is not None and job.finished_at is not None
                await conn.execute(
                    update(JobRow)
                    .where(JobRow.id == render_id)
                    .values(created_at=job.created_at - by, finished_at=job.finished_at - by)
                )

    harness.run(rewrite())
    server.server.config.app.state.result_cache.clear()


def test_purge_follows_the_keep_periods(harness: FleetHarness, site_url: str) -> None:
    server = harness.server()
    key = harness.new_key(server)
    with RenderApi(server.url, key) as api:
        plain = api.create({"url": f"{site_url}/slow?ms=11", "includeScreenshot": True})
        debug = api.create({"url": f"{site_url}/slow?ms=12", "includeScreenshot": True, "debug": True})
        fresh = api.create({"url": f"{site_url}/slow?ms=13"})
        for render_id in (plain, debug, fresh):
            response = api.wait(render_id, 60)
            assert response.status_code == 200, response.text
        assert _blob_files(server, plain) == {"html.gz", "screenshot"}
        assert _blob_files(server, debug) == {"html.gz", "screenshot"}
        assert _blob_files(server, fresh) == {"html.gz"}

        # 25 h later: past the API window, inside the debug keep period
        _age(harness, server, [plain, debug], timedelta(hours=25))
        report = harness.run(server.fleet.purger.once())
        assert (report.blobs_purged, report.jobs_deleted) == (1, 0)
        assert _blob_files(server, plain) == set()
        assert _blob_files(server, debug) == {"html.gz", "screenshot"}
        for render_id in (plain, debug):
            gone = api.get(render_id)
            assert gone.status_code == 404
            assert gone.json() == {"error": "Not Found", "message": "Render not found"}
        plain_job, debug_job = _job(harness, server, plain), _job(harness, server, debug)
        assert plain_job is not None and plain_job.blobs_purged
        assert debug_job is not None and not debug_job.blobs_purged
        kept = api.get(fresh)
        assert kept.status_code == 200
        assert "Answered after 13 ms" in decode_html(kept.json()["html"])

        # 8 days: the debug blobs go too, the job records stay
        _age(harness, server, [debug], timedelta(days=7))
        report = harness.run(server.fleet.purger.once())
        assert (report.blobs_purged, report.jobs_deleted) == (1, 0)
        assert _blob_files(server, debug) == set()
        assert _job(harness, server, debug) is not None

        # past retention_days (365): the job records are deleted, here by `browserfleet purge`
        _age(harness, server, [plain, debug], timedelta(days=366))
        purged = run_cli("purge", "--data-dir", str(server.settings.data_dir))
        assert purged.returncode == 0, purged.stderr
        assert purged.stdout == "blobs purged: 0, jobs deleted: 2\n"
        assert _job(harness, server, plain) is None
        assert _job(harness, server, debug) is None
        assert _job(harness, server, fresh) is not None
        assert _blob_files(server, fresh) == {"html.gz"}
        assert api.get(fresh).status_code == 200
