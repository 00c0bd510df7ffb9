"""Server time of the web console's pages on a big project.

Seeds one project directly through the store — ``--renders`` finished renders (10,000; the newest
with HTML and a screenshot), ``--sessions`` ended sessions (1,000; one with a recording and a log)
and ``--runs`` finished automation runs of one task (1,000) — then signs in to the console as a
browser would (the sign-in form, its CSRF token, the session cookie) and requests every list and
detail page ``--repeat`` times, in process (httpx's ASGI transport: no network, the time is the
server's). Prints p50/p95 per page and whether each is under the ``--budget-ms`` p95 (300 ms).

    .venv/bin/python bench/console.py [--renders 10000] [--sessions 1000] [--runs 1000] [--repeat 30]

``--data-dir DIR`` keeps the seeded data there and reuses it on the next run (seeding 12,000 jobs
one transaction at a time takes minutes).
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402

from browserfleet import logs  # noqa: E402
from browserfleet.app import create_app  # noqa: E402
from browserfleet.core.accounts import new_id  # noqa: E402
from browserfleet.core.automations.steps import new_uid  # noqa: E402
from browserfleet.core.jobs import JobKind, JobState, Route, utcnow  # noqa: E402
from browserfleet.core.sessions import SessionSpec  # noqa: E402
from browserfleet.core.sessions.history import LOG_BLOB, RECORDING_BLOB  # noqa: E402
from browserfleet.fleet import Fleet  # noqa: E402
from browserfleet.settings import Settings  # noqa: E402
from browserfleet.store.records import JobOutcome, ProjectRecord, TaskRecord  # noqa: E402

PNG_1X1 = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d4944415478da63f8cfc0f01f0005000201a5f8c3c80000000049454e44ae426082"
)
ERRORS = ("NAVIGATION_FAILED", "RENDER_TIMEOUT", "SELECTOR_TIMEOUT")


async def seed_renders(fleet: Fleet, project: ProjectRecord, n: int) -> str:
    newest = ""
    for i in range(n):
        job = await fleet.store.insert_job(
            job_id=new_id("ren"),
            project_id=project.id,
            kind=JobKind.RENDER,
            route=Route(),
            spec={"url": f"https://shop.example/item/{i}?q=<b>{i}</b>", "city": None, "timeout_s": 60},
        )
        await fleet.store.claim_job(job.id, "bench-node")
        failed = i % 10 == 0
        result = {
            "title": f"Item {i} <script>alert({i})</script>",
            "timingBreakdown": {"navigationMs": 300 + i % 200, "htmlCaptureMs": 12, "totalMs": 320 + i % 200},
            "bandwidthMetrics": {"networkBytes": 10_000 + i, "cachedBytes": 0, "cacheHitRate": "0.0%"},
            "blobs": ["html.gz", "screenshot"] if i == n - 1 else [],
            "screenshotFormat": "png",
        }
        outcome = JobOutcome(
            JobState.FAILED if failed else JobState.COMPLETED,
            result=result,
            error_code=ERRORS[i % 3] if failed else None,
            error_message="seeded failure" if failed else None,
            billable=True,
        )
        await fleet.store.finish_job(job.id, outcome)
        newest = job.id
    html = "<html><head><title>Item</title></head><body>" + "<p>row</p>" * 2000 + "</body></html>"
    await fleet.blobs.put(newest, "html.gz", gzip.compress(html.encode()))
    await fleet.blobs.put(newest, "screenshot", PNG_1X1)
    return newest


async def seed_sessions(fleet: Fleet, project: ProjectRecord, n: int) -> str:
    newest = ""
    for i in range(n):
        metadata = {"batch": str(i % 7), "name": f"<i>{i}</i>"}
        spec = SessionSpec(
            user_metadata=metadata, timeout_s=300, session_timeout_s=300, signing_key="sealed-bench-key"
        ).model_dump(mode="json")
        job = await fleet.store.insert_job(
            job_id=new_id("ses"), project_id=project.id, kind=JobKind.SESSION, route=Route(), spec=spec
        )
        await fleet.store.claim_job(job.id, "bench-node")
        result = {"browserMinutes": 1.5, "proxyBytes": 50_000 + i}
        await fleet.store.finish_job(job.id, JobOutcome(JobState.COMPLETED, result=result))
        newest = job.id
    events = [
        {
            "sessionId": newest,
            "pageId": 0,
            "timestamp": 1_700_000_000_000 + t,
            "type": 3,
            "data": {"source": 2},
        }
        for t in range(500)
    ]
    log = [
        {"method": "Page.navigate", "pageId": 0, "timestamp": t, "request": {"params": {}}}
        for t in range(800)
    ]
    await fleet.blobs.put(newest, RECORDING_BLOB, json.dumps(events).encode())
    await fleet.blobs.put(newest, LOG_BLOB, json.dumps(log).encode())
    return newest


async def seed_runs(fleet: Fleet, project: ProjectRecord, n: int) -> tuple[str, str]:
    now = utcnow()
    steps = [{"uid": "open", "action": "go", "config": {"url": "https://shop.example/"}}]
    task = await fleet.store.create_task(
        TaskRecord(new_uid(), project.id, "bench task", 1024, 768, steps, now, now)
    )
    newest = ""
    for i in range(n):
        run = await fleet.store.insert_task_run(
            job_id=new_id("run"),
            project_id=project.id,
            task_id=task.id,
            spec={"task": task.id, "steps": steps, "timeout_s": 60},
            webhook_url=None,
            metadata={"i": i},
        )
        await fleet.store.claim_job(run.job.id, "bench-node")
        result = {"outputs": {"open_go": None, "text_save_text": [f"value {i}"]}}
        await fleet.store.finish_job(run.job.id, JobOutcome(JobState.COMPLETED, result=result))
        newest = run.job.id
    return task.id, newest


async def seeded(fleet: Fleet, data_dir: Path, args: argparse.Namespace) -> tuple[str, tuple[str, ...]]:
    """A key and the ids of the pages to time: seeded now, or read back from an earlier run."""
    saved = data_dir / "bench-console.json"
    if saved.exists():
        found = json.loads(saved.read_text())
        print(f"reusing the data seeded in {data_dir}")
        return found["key"], tuple(found["ids"])
    project = await fleet.accounts.create_project("bench")
    key = (await fleet.accounts.create_key("bench")).key
    started = time.perf_counter()
    render_id = await seed_renders(fleet, project, args.renders)
    session_id = await seed_sessions(fleet, project, args.sessions)
    task_id, run_id = await seed_runs(fleet, project, args.runs)
    print(
        f"seeded {args.renders} renders, {args.sessions} sessions, {args.runs} runs "
        f"in {time.perf_counter() - started:.1f} s"
    )
    ids = (render_id, session_id, task_id, run_id)
    saved.write_text(json.dumps({"key": key, "ids": ids}))
    return key, ids


async def sign_in(client: httpx.AsyncClient, key: str) -> None:
    form = await client.get("/console/signin")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert token is not None
    signed = await client.post("/console/signin", data={"csrf": token.group(1), "key": key})
    assert signed.status_code == 303, signed.text


async def measure(client: httpx.AsyncClient, path: str, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        answer = await client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 200, (path, answer.status_code, answer.text[:300])
    return times


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) > 1 else values[0]


async def main(args: argparse.Namespace) -> int:
    logs.configure("warning", "console")
    with tempfile.TemporaryDirectory(prefix="bench-console-") as folder:
        data_dir = args.data_dir or Path(folder)
        data_dir.mkdir(parents=True, exist_ok=True)
        settings = Settings(data_dir=data_dir, log_level="warning")
        app = create_app(settings, run_nodes=False)
        async with app.router.lifespan_context(app):
            fleet: Fleet = app.state.fleet
            key, (render_id, session_id, task_id, run_id) = await seeded(fleet, data_dir, args)
            pages = {
                "overview": "/console/",
                "renders list": "/console/renders",
                "renders list, page 200": "/console/renders?page=200",
                "renders list, filtered": "/console/renders?status=failed&error=RENDER_TIMEOUT&url=item",
                "render detail": f"/console/renders/{render_id}",
                "sessions list": "/console/sessions",
                "sessions list, page 30": "/console/sessions?page=30",
                "sessions list, metadata filter": "/console/sessions?q=user_metadata['batch']:'3'",
                "session detail": f"/console/sessions/{session_id}",
                "tasks list": "/console/tasks",
                "task with its runs": f"/console/tasks/{task_id}",
                "task runs, page 30": f"/console/tasks/{task_id}?page=30",
                "run detail": f"/console/tasks/{task_id}/runs/{run_id}",
                "browsing list": "/console/browsing",
                "contexts & extensions": "/console/library",
                "keys & settings": "/console/settings",
            }
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
                await sign_in(client, key)
                return report(
                    pages,
                    {name: await measure(client, path, args.repeat) for name, path in pages.items()},
                    args,
                )


def report(pages: dict[str, str], times: dict[str, list[float]], args: argparse.Namespace) -> int:
    print(f"{'page':34} {'p50 ms':>8} {'p95 ms':>8}  under {args.budget_ms:.0f} ms p95")
    worst = 0.0
    for name in pages:
        p50, top = statistics.median(times[name]), p95(times[name])
        worst = max(worst, top)
        print(f"{name:34} {p50:8.1f} {top:8.1f}  {'yes' if top < args.budget_ms else 'NO'}")
    verdict = worst < args.budget_ms
    print(f"slowest p95 {worst:.1f} ms: {'every page under' if verdict else 'over'} {args.budget_ms:.0f} ms")
    if args.json:
        print(json.dumps({n: {"p50": statistics.median(t), "p95": p95(t)} for n, t in times.items()}))
    return 0 if verdict or not args.strict else 1


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--renders", type=int, default=10_000)
    parser.add_argument("--sessions", type=int, default=1_000)
    parser.add_argument("--runs", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--budget-ms", type=float, default=300.0)
    parser.add_argument("--strict", action="store_true", help="exit 1 when a page is over the budget")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--data-dir", type=Path, help="keep (and reuse) the seeded data here")
    return parser.parse_args()


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse())))
