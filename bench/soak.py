"""Soak: waves of work against a real server, then whether it came back to where it started.

Starts the test site and a real ``browserfleet serve`` with default capacity settings (both on
127.0.0.1; the server's temp folder is a private one, so its temp folders can be counted), warms
it up, takes a baseline, then runs, one after another:

1. ``--renders`` renders (default 1,000) at concurrency ``--concurrency`` (16), and SIGKILLs the
   render pool's browser once a third are done: every accepted render must still complete;
2. ``--sessions`` session cycles (200) — create (official ``browserbase`` SDK) → Playwright
   ``connect_over_cdp`` → navigate a test-site page → hold ``--hold`` s (10) → release — with up to
   ``--live`` (100) live at once;
3. ``--runs`` automation runs (12), started together.

Before and after (once things settle, up to ``SETTLE_S``) it prints the server's Chromium
processes, open file descriptors, temp folders, RSS and data folder (database + blobs, and the
rest), and checks: Chromium, descriptors and temp folders back to the baseline (descriptors within
``FD_SLACK``), RSS within ``RSS_SLACK_MB``, the data folder outside the database and blobs back to
its size (the database and blobs keep what the jobs produced; their growth per job is printed).
Every request goes to 127.0.0.1; every wave is bounded in count and by ``--max-minutes``.

    .venv/bin/python bench/soak.py [--renders 1000] [--concurrency 16] [--sessions 200] [--live 100]
        [--runs 12] [--json] [--strict]

Exit status 0 unless ``--strict`` (then 1 when a figure did not come back or a job was lost; 2 on
a set-up error).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
from browserbase import AsyncBrowserbase
from playwright.async_api import Playwright, async_playwright
from render_throughput import (
    STARTUP_TIMEOUT_S,
    BenchError,
    Child,
    _terminate,
    free_port,
    loadavg,
    log,
    server_env,
    start_site,
    venv_tool,
    wait_healthy,
    workspace,
)
from session_startup import _table, tree

FD_SLACK = 2
RSS_SLACK_MB = 100.0
SETTLE_S = 60.0
SESSION_MARK = b"browserfleet-session-"


# --- the server's figures -----------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    chromium: int
    fds: int  # without the database's (its connection pool keeps a few open by design)
    db_fds: int
    temp_dirs: int
    rss_mb: float
    kept_mb: float  # the database and blobs
    other_kb: int  # the rest of the data folder (session files…)

    @classmethod
    def of(cls, server_pid: int, temp_dir: Path, data_dir: Path) -> Figures:
        kept, other = _data_sizes(data_dir)
        targets = []
        for fd in os.listdir(f"/proc/{server_pid}/fd"):
            with contextlib.suppress(OSError):
                targets.append(os.readlink(f"/proc/{server_pid}/fd/{fd}"))
        db_fds = sum(1 for target in targets if Path(target).name.startswith("browserfleet.db"))
        return cls(
            chromium=len(chromium_pids(server_pid)),
            fds=len(targets) - db_fds,
            db_fds=db_fds,
            temp_dirs=len(os.listdir(temp_dir)),
            rss_mb=_rss_mb(server_pid),
            kept_mb=round(kept / 2**20, 1),
            other_kb=other // 1024,
        )

    def back_to(self, base: Figures) -> bool:
        return (
            self.chromium <= base.chromium
            and self.fds <= base.fds + FD_SLACK
            and self.temp_dirs == base.temp_dirs
            and self.other_kb <= base.other_kb
        )


def chromium_pids(server_pid: int) -> list[int]:
    found = []
    for pid in tree(server_pid, _table())[1:]:
        with contextlib.suppress(OSError):
            if Path(f"/proc/{pid}/comm").read_text().startswith(("chrom", "headless")):
                found.append(pid)
    return found


def pool_browser(server_pid: int) -> int | None:
    """The render pool's browser: a Chromium whose parent is not Chromium, not a session's."""
    chromium = set(chromium_pids(server_pid))
    table = _table()
    for pid in sorted(chromium):
        with contextlib.suppress(OSError):
            argv = Path(f"/proc/{pid}/cmdline").read_bytes()
            if table[pid][0] not in chromium and SESSION_MARK not in argv:
                return pid
    return None


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def _data_sizes(data_dir: Path) -> tuple[int, int]:
    kept = other = 0
    for path in data_dir.rglob("*"):
        with contextlib.suppress(OSError):
            if path.is_file():
                first = path.relative_to(data_dir).parts[0]
                if first == "blobs" or first.startswith("browserfleet.db"):
                    kept += path.stat().st_size
                else:
                    other += path.stat().st_size
    return kept, other


# --- waves --------------------------------------------------------------------------------------


async def render_once(client: httpx.AsyncClient, site_url: str, n: int) -> str:
    """One render to its end; its final status. A full queue (429) is retried after Retry-After."""
    body = {"url": f"{site_url}/js-content?n={n}", "waitFor": []}
    for _ in range(600):
        created = await client.post("/v1/renders", json=body)
        if created.status_code != 429:
            break
        await asyncio.sleep(float(created.headers.get("Retry-After", "1")))
    if created.status_code not in (200, 201):
        return f"http {created.status_code}"
    render_id = created.json()["renderId"]
    while True:
        reply = await client.get(f"/v1/renders/{render_id}", params={"wait": 30})
        body = reply.json()
        status = str(body.get("status"))
        if status == "failed":
            return f"failed {body.get('errorCode')}"
        if status != "processing":
            return status


class RenderWave:
    """``renders`` renders by ``concurrency`` workers; the pool browser is killed at a third."""

    def __init__(self, args: argparse.Namespace, server_pid: int) -> None:
        self.args = args
        self.server_pid = server_pid
        self.outcomes: dict[str, int] = {}
        self.done = 0
        self.killed: int | None = None
        self.todo = list(range(args.renders))

    async def run(self, base_url: str, key: str, site_url: str) -> dict[str, Any]:
        started = time.perf_counter()
        headers = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=120) as client:
            await asyncio.gather(*(self.worker(client, site_url) for _ in range(self.args.concurrency)))
        seconds = time.perf_counter() - started
        return {
            "outcomes": self.outcomes,
            "seconds": round(seconds, 1),
            "perSecond": round(self.args.renders / seconds, 2),
            "killed": self.killed,
        }

    async def worker(self, client: httpx.AsyncClient, site_url: str) -> None:
        while self.todo:
            status = await render_once(client, site_url, self.todo.pop())
            self.outcomes[status] = self.outcomes.get(status, 0) + 1
            self.done += 1
            if self.killed is None and self.done >= self.args.renders // 3 and self.server_pid > 0:
                self.kill()

    def kill(self) -> None:
        self.killed = pool_browser(self.server_pid) or -1
        if self.killed > 0:
            log(f"  SIGKILL render pool browser {self.killed} after {self.done} renders")
            os.kill(self.killed, signal.SIGKILL)


async def session_wave(base_url: str, key: str, site_url: str, args: argparse.Namespace) -> dict[str, Any]:
    gate = asyncio.Semaphore(args.live)
    live = peak = 0
    failures: list[str] = []

    async def cycle(client: AsyncBrowserbase, pw: Playwright, n: int) -> None:
        nonlocal live, peak
        async with gate:
            try:
                session = await client.sessions.create(user_metadata={"soak": str(n)})
            except Exception as exc:
                failures.append(f"create: {type(exc).__name__}: {str(exc)[:200]}")
                return
            live += 1
            peak = max(peak, live)
            try:
                if session.status != "RUNNING":
                    raise BenchError(f"created {session.status}")
                browser = await pw.chromium.connect_over_cdp(session.connect_url, timeout=60000)
                try:
                    page = await browser.contexts[0].new_page()
                    await page.goto(f"{site_url}/js-content?s={n}", timeout=60000)
                    await page.wait_for_selector("li.product", timeout=60000)
                    await asyncio.sleep(args.hold)
                finally:
                    await browser.close()
            except Exception as exc:
                failures.append(f"{type(exc).__name__}: {str(exc)[:200]}")
            finally:
                await client.sessions.update(session.id, status="REQUEST_RELEASE")
                live -= 1

    started = time.perf_counter()
    async with (
        AsyncBrowserbase(api_key=key, base_url=base_url, max_retries=5) as client,
        async_playwright() as pw,
    ):
        await asyncio.gather(*(cycle(client, pw, n) for n in range(args.sessions)))
    return {
        "cycles": args.sessions,
        "failed": len(failures),
        "firstFailures": failures[:3],
        "peakLive": peak,
        "seconds": round(time.perf_counter() - started, 1),
    }


async def run_wave(base_url: str, key: str, site_url: str, args: argparse.Namespace) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {key}"}
    steps = [
        {"action": "go", "config": {"url": f"{site_url}/js-content"}},
        {"action": "save_text", "config": {"selector": "li.product"}},
    ]
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=120) as client:
        task = (await client.post("/v1/tasks", json={"name": "soak", "steps": steps})).json()
        uids = [
            (await client.post(f"/v1/tasks/{task['uid']}/runs", json={})).json()["uid"]
            for _ in range(args.runs)
        ]
        outcomes: dict[str, int] = {}
        for uid in uids:
            while (
                run := (await client.get(f"/v1/tasks/{task['uid']}/runs/{uid}", params={"wait": 30})).json()
            )["status"] == "running":
                pass
            outcomes[run["status"]] = outcomes.get(run["status"], 0) + 1
    return {"outcomes": outcomes}


# --- the run ------------------------------------------------------------------------------------


def start_server(
    stack: contextlib.ExitStack, root: Path, log_dir: Path, extra_env: list[str]
) -> tuple[Child, str, str, Path, Path]:
    """A default-capacity server (no slot settings) with a private temp folder."""
    temp_dir, data_dir = root / "server-tmp", root / "data"
    temp_dir.mkdir(mode=0o1777)
    temp_dir.chmod(0o1777)  # the contained browsers' user works in it too
    root.chmod(0o755)
    env = server_env(1, extra_env) | {"TMPDIR": str(temp_dir)}
    env.pop("BROWSERFLEET_NODE_SLOTS")
    port = free_port()
    argv = [venv_tool("browserfleet"), "serve", "--port", str(port), "--data-dir", str(data_dir)]
    server = Child("server", argv, env, log_dir)
    stack.callback(server.stop)
    key = server.next_line(STARTUP_TIMEOUT_S).strip()  # first start: the key alone on a line
    base_url = f"http://127.0.0.1:{port}"
    wait_healthy(server, base_url)
    return server, base_url, key, temp_dir, data_dir


def settle(server_pid: int, temp_dir: Path, data_dir: Path, base: Figures | None) -> Figures:
    deadline = time.monotonic() + SETTLE_S
    while True:
        now = Figures.of(server_pid, temp_dir, data_dir)
        if (base is not None and now.back_to(base)) or time.monotonic() > deadline:
            return now
        time.sleep(1.0 if base is not None else SETTLE_S / 20)
        if base is None:
            return Figures.of(server_pid, temp_dir, data_dir)


async def waves(base_url: str, key: str, site_url: str, args: argparse.Namespace, pid: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    log(f"renders: {args.renders} at concurrency {args.concurrency}, the pool browser killed mid-wave ...")
    out["renders"] = await RenderWave(args, pid).run(base_url, key, site_url)
    log(f"sessions: {args.sessions} cycles, up to {args.live} live ...")
    out["sessions"] = await session_wave(base_url, key, site_url, args)
    log(f"automation runs: {args.runs} ...")
    out["runs"] = await run_wave(base_url, key, site_url, args)
    return out


def soak(args: argparse.Namespace) -> dict[str, Any]:
    with workspace() as (stack, tmp):
        log_dir = args.log_dir or tmp
        log_dir.mkdir(parents=True, exist_ok=True)
        _site, site_url = start_site(stack, log_dir)
        server, base_url, key, temp_dir, data_dir = start_server(stack, tmp, log_dir, args.server_env)
        log(f"site {site_url}, server {base_url}: warming up ...")
        warm = argparse.Namespace(
            **{**vars(args), "renders": 20, "sessions": 3, "live": 3, "runs": 1, "hold": 0}
        )
        asyncio.run(asyncio.wait_for(waves(base_url, key, site_url, warm, -1), 600))
        before = settle(server.pid, temp_dir, data_dir, None)
        load_before = loadavg()
        results = asyncio.run(
            asyncio.wait_for(waves(base_url, key, site_url, args, server.pid), args.max_minutes * 60)
        )
        after = settle(server.pid, temp_dir, data_dir, before)
        results["loadavg"] = {"before": load_before, "after": loadavg(), "cpus": os.cpu_count()}
        results["serverLog"] = server.tail(60) if results["sessions"]["failed"] else ""
    results["before"], results["after"] = asdict(before), asdict(after)
    jobs = args.renders + args.sessions + args.runs
    results["keptPerJobKB"] = round((after.kept_mb - before.kept_mb) * 1024 / jobs, 1)
    results["checks"] = checks(results, before, after, args)
    return results


def checks(
    results: dict[str, Any], before: Figures, after: Figures, args: argparse.Namespace
) -> dict[str, bool]:
    return {
        "every render completed (browser killed mid-wave)": results["renders"]["outcomes"]
        == {"completed": args.renders}
        and bool(results["renders"]["killed"] and results["renders"]["killed"] > 0),
        "every session cycle worked": results["sessions"]["failed"] == 0,
        "every run finished": results["runs"]["outcomes"] == {"finished": args.runs},
        "chromium processes back (none more than before)": after.chromium <= before.chromium,
        f"file descriptors back (slack {FD_SLACK})": after.fds <= before.fds + FD_SLACK,
        "temp folders back": after.temp_dirs == before.temp_dirs,
        f"RSS within {RSS_SLACK_MB:g} MB": after.rss_mb - before.rss_mb <= RSS_SLACK_MB,
        "data folder (outside database and blobs) back": after.other_kb <= before.other_kb,
    }


def print_report(out: dict[str, Any]) -> None:
    r, s, runs = out["renders"], out["sessions"], out["runs"]
    print(f"renders: {r['outcomes']} in {r['seconds']} s ({r['perSecond']}/s), killed: {r['killed']}")
    print(
        f"sessions: {s['cycles']} cycles, {s['failed']} failed, peak {s['peakLive']} live, {s['seconds']} s"
    )
    print(f"automation runs: {runs['outcomes']}")
    before, after = out["before"], out["after"]
    print(f"{'':24}{'before':>12}{'after':>12}")
    for name in before:
        print(f"  {name:22}{before[name]:>12}{after[name]:>12}")
    print(f"  database + blobs kept per job: {out['keptPerJobKB']} KB")
    load = out["loadavg"]
    print(f"load average {load['before']} -> {load['after']} on {load['cpus']} CPUs")
    for name, passed in out["checks"].items():
        print(f"  {'PASS' if passed else 'FAIL'}  {name}")
    if out["sessions"]["firstFailures"]:
        print("first session failures:", *out["sessions"]["firstFailures"], sep="\n  ")
    if out["serverLog"]:
        print(f"server log (tail):{out['serverLog']}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--renders", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--live", type=int, default=100, help="most sessions live at once (100)")
    parser.add_argument("--hold", type=float, default=10.0, help="seconds a cycle holds its session (10)")
    parser.add_argument("--runs", type=int, default=12)
    parser.add_argument("--max-minutes", type=float, default=30.0, help="bound on the waves (30)")
    parser.add_argument(
        "--server-env", action="append", default=[], metavar="NAME=VALUE", help="extra server environment"
    )
    parser.add_argument("--log-dir", type=Path, default=None, help="keep the server's and site's logs here")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--strict", action="store_true")
    args = parser.parse_args(argv)
    bounded = 1 <= args.renders <= 5000 and 1 <= args.sessions <= 1000 and 1 <= args.live <= 300
    if not (bounded and 1 <= args.concurrency <= 64 and 1 <= args.runs <= 100 and args.max_minutes <= 120):
        parser.error("counts out of bounds (renders <= 5000, sessions <= 1000, live <= 300, runs <= 100)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        out = soak(args)
    except (BenchError, TimeoutError) as exc:
        log(f"error: {type(exc).__name__}: {exc}")
        return 2
    except KeyboardInterrupt:
        log("interrupted; subprocesses stopped")
        return 130
    print_report(out)
    if args.json:
        print(json.dumps(out, indent=2))
    return 1 if args.strict and not all(out["checks"].values()) else 0


if __name__ == "__main__":
    sys.exit(main())
