"""Render throughput: browserfleet's Renders API against raw Playwright, in the same run.

Starts the local test site and a real ``browserfleet serve`` (subprocesses), then, for each page
and each concurrency C, renders the page N times both ways, alternating the two in rounds so
background noise hits both alike:

* api - C httpx workers: ``POST /v1/renders`` then ``GET /v1/renders/{id}?wait=30`` until the
  render is terminal; latency = POST start -> completed response;
* raw - one chromium-headless-shell driven by Playwright in this process, C workers each doing
  new_context -> new_page -> goto(load) [-> wait_for_selector] -> content() -> close.

Pages: ``bench`` (/bench, 50 table rows built by JS while it loads) and ``late`` (/bench-late:
after ``load`` one XHR to the site, and 800 ms after ``load`` its 50 rows and ``#late-ready``,
which both sides wait for: ``waitFor`` selector / ``wait_for_selector``). Every HTML is checked
for the page's last row, so broken renders are never counted. Prints renders/s, p50/p95 latency
and CPU seconds per render of both, and checks the targets (API throughput >= 1.15x raw at every
concurrency >= 4, API p50 below raw at concurrency 1, the server's Python under 0.015 CPU-s per
render). Exit status is 0 unless ``--strict``.

    .venv/bin/python bench/render_throughput.py [-n 100] [-c 1 4 8] [--pages bench late]
                                                [--rounds 2] [--json] [--strict]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import gzip
import json
import os
import queue
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO, Any

import httpx
from playwright.async_api import Browser, async_playwright

from browserfleet.settings import CHROMIUM_FLAGS

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = REPO / ".venv" / "bin"
CHROMIUM = Path("/usr/lib/chromium/chromium-headless-shell")
RAW_FLAGS = CHROMIUM_FLAGS
DEFAULT_PROJECT_CONCURRENCY = 1000  # browserfleet's default_concurrency
TARGET_RATIO = 1.15  # API / raw renders per second, at every concurrency >= TARGET_RATIO_FROM
TARGET_RATIO_FROM = 4
TARGET_SERVER_PYTHON_CPU_S = 0.015  # the server's Python, CPU seconds per render
STARTUP_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0
CLK_TCK = os.sysconf("SC_CLK_TCK")
# Runs argv[1:] as a child subreaper (prctl PR_SET_CHILD_SUBREAPER, kept across execve): when the
# server recycles a browser, Chromium's orphaned helpers are re-parented to the server and stay
# there as zombies, so their CPU time stays in the server's process tree instead of vanishing.
SUBREAPER_EXEC = (
    sys.executable,
    "-c",
    "import ctypes, os, sys; ctypes.CDLL(None).prctl(36, 1, 0, 0, 0); os.execv(sys.argv[1], sys.argv[1:])",
)


class BenchError(Exception):
    """A render (or the set-up) went wrong."""


# --- subprocesses -------------------------------------------------------------------------------


class Child:
    """A subprocess in its own session: stdout lines are queued by a reader thread, stderr goes
    to a log file; ``stop`` sends SIGTERM (or ``stop_signal``), waits, then SIGKILLs whatever is
    left of its process group."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        env: dict[str, str],
        log_dir: Path,
        stop_signal: signal.Signals = signal.SIGTERM,
    ) -> None:
        self.name = name
        self.stop_signal = stop_signal
        self.log_path = log_dir / f"{name}.stderr.log"
        self._log: IO[bytes] = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            argv,
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._log,
            start_new_session=True,
            text=True,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._drain, name=f"{name}-stdout", daemon=True).start()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _drain(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def next_line(self, timeout_s: float) -> str:
        try:
            line = self.lines.get(timeout=timeout_s)
        except queue.Empty:
            raise BenchError(f"{self.name}: no output after {timeout_s:g} s{self.tail()}") from None
        if line is None:
            raise BenchError(f"{self.name} exited (status {self.proc.wait()}){self.tail()}")
        return line

    def tail(self, lines: int = 15) -> str:
        with contextlib.suppress(OSError):
            text = self.log_path.read_text(errors="replace").strip().splitlines()[-lines:]
            if text:
                return "\n  " + "\n  ".join(text)
        return ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(self.stop_signal)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(STOP_TIMEOUT_S)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # stragglers (Chromium) of its own session
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(STOP_TIMEOUT_S)
        self._log.close()


def venv_tool(name: str) -> str:
    path = VENV_BIN / name
    return str(path) if path.exists() else (sys.executable if name == "python" else name)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_site(stack: contextlib.ExitStack, log_dir: Path) -> tuple[Child, str]:
    argv = [venv_tool("python"), "-m", "tests.site.server", "--port", "0"]
    site = Child("site", argv, dict(os.environ), log_dir)
    stack.callback(site.stop)
    prefix = "Test site listening on "
    line = site.next_line(STARTUP_TIMEOUT_S)
    if not line.startswith(prefix):
        raise BenchError(f"unexpected test-site output: {line!r}")
    return site, line.removeprefix(prefix).strip()


def server_env(concurrency: int, extra: list[str]) -> dict[str, str]:
    env = dict(os.environ)
    env |= {
        "BROWSERFLEET_EGRESS_ALLOW": '["127.0.0.1/32"]',
        "BROWSERFLEET_NODE_SLOTS": str(concurrency),
        "BROWSERFLEET_LOG_LEVEL": "warning",
    }
    for item in extra:
        name, sep, value = item.partition("=")
        if not sep:
            raise BenchError(f"--server-env wants NAME=VALUE, got {item!r}")
        env[name] = value
    return env


def cli(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(
        [venv_tool("browserfleet"), *args], cwd=REPO, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode:
        raise BenchError(f"browserfleet {' '.join(args)} failed: {done.stderr.strip()[-500:]}")
    return done.stdout


def start_server(
    stack: contextlib.ExitStack, log_dir: Path, data_dir: Path, args: argparse.Namespace
) -> tuple[Child, str, str]:
    """``(child, base_url, api_key)`` of a ready server whose project allows ``concurrency``."""
    concurrency = args.concurrency
    env = server_env(concurrency, args.server_env)
    data = ["--data-dir", str(data_dir)]
    key: str | None = None
    if concurrency > DEFAULT_PROJECT_CONCURRENCY:
        cli(["projects", "create", "bench", "--concurrency", str(concurrency), *data], env)
        key = cli(["keys", "create", "--project", "bench", *data], env).strip().splitlines()[-1]
    port = free_port()
    argv = [venv_tool("browserfleet"), "serve", "--port", str(port), *data]
    stop_signal = signal.SIGTERM
    if args.server_profile:
        argv = [venv_tool("python"), "-m", "cProfile", "-o", str(args.server_profile.resolve()), *argv]
        # uvicorn re-raises the stop signal after its shutdown: SIGTERM would kill the process
        # before cProfile writes its file, SIGINT ends it with a KeyboardInterrupt instead
        stop_signal = signal.SIGINT
    server = Child("server", [*SUBREAPER_EXEC, *argv], env, log_dir, stop_signal)
    stack.callback(server.stop)
    if key is None:  # first start: the key is printed alone on one line of stdout
        key = server.next_line(STARTUP_TIMEOUT_S).strip()
    base_url = f"http://127.0.0.1:{port}"
    wait_healthy(server, base_url)
    return server, base_url, key


def wait_healthy(server: Child, base_url: str) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise BenchError(f"server exited (status {server.proc.returncode}){server.tail()}")
        with contextlib.suppress(httpx.HTTPError):
            reply = httpx.get(f"{base_url}/health", timeout=2)
            if reply.status_code == 200 and reply.json().get("nodes", 0) >= 1:
                return
        time.sleep(0.2)
    raise BenchError(f"server not healthy after {STARTUP_TIMEOUT_S:g} s{server.tail()}")


# --- CPU accounting via /proc -------------------------------------------------------------------


PROGRAMS = ("python", "driver", "chromium", "other")


def _program(comm: bytes) -> str:
    if comm.startswith((b"python", b"browserfleet")):  # the server is .venv/bin/browserfleet
        return "python"
    if comm.startswith(b"node"):  # the Playwright driver
        return "driver"
    if comm.startswith((b"chrom", b"headless")):
        return "chromium"
    return "other"


def _proc_table() -> dict[int, tuple[int, str, float, float]]:
    """pid -> (ppid, program, own CPU seconds, CPU seconds of its reaped children)."""
    table: dict[int, tuple[int, str, float, float]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as fh:
                raw = fh.read()
        except OSError:
            continue
        comm = raw[raw.find(b"(") + 1 : raw.rfind(b")")]
        fields = raw[raw.rfind(b")") + 2 :].split()  # after "pid (comm) "
        utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
        own, reaped = (utime + stime) / CLK_TCK, (cutime + cstime) / CLK_TCK
        table[int(entry.name)] = (int(fields[1]), _program(comm), own, reaped)
    return table


def tree_cpu(roots: dict[str, int]) -> dict[tuple[str, str], float]:
    """(root name, program) -> CPU seconds of that root's process tree so far, exited and reaped
    descendants included: counted in their reaper's figure, as Chromium when the reaper is the
    Playwright driver (whose only children are browsers), else as the reaper's own program."""
    table = _proc_table()
    children: dict[int, list[int]] = {}
    for pid, (ppid, *_) in table.items():
        children.setdefault(ppid, []).append(pid)
    out = {(name, program): 0.0 for name in roots for program in PROGRAMS}
    for name, root in roots.items():
        todo = [root]
        while todo:
            pid = todo.pop()
            if pid in table:
                _, program, own, reaped = table[pid]
                out[name, program] += own
                out[name, "chromium" if program == "driver" else program] += reaped
                todo.extend(children.get(pid, ()))
    return out


# --- renders ------------------------------------------------------------------------------------


@dataclass
class Rendered:
    latency_s: float
    html: str
    timing: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class BenchPage:
    """A page of the test site to render, what to wait for, and how a complete render looks."""

    name: str
    path: str
    row_class: str
    last_row: str
    rows: int = 50
    wait_selector: str | None = None  # both sides wait for it after ``load``

    def check(self, html: str) -> None:
        rows = html.count(f'class="{self.row_class}"')
        if rows != self.rows or self.last_row not in html:
            raise BenchError(f"incomplete render: {rows} rows, last row present: {self.last_row in html}")


PAGES = {
    page.name: page
    for page in (
        # 50 rows built in JS while the page loads (tests/site/pages/bench.html)
        BenchPage(
            "bench",
            "/bench",
            "bench-row",
            '<td>50</td><td>BN-850</td><td>Large Notebook</td><td>Books</td><td class="num">$60.50</td>'
            '<td class="num">68</td>',
        ),
        # after `load` one XHR, then 800 ms after `load` 50 rows and #late-ready (bench-late.html)
        BenchPage(
            "late", "/bench-late", "late-row", "<td>50</td><td>Item 50</td>", wait_selector="#late-ready"
        ),
    )
}


def _ms(since: float) -> int:
    return round((time.perf_counter() - since) * 1000)


async def api_render(client: httpx.AsyncClient, url: str, page: BenchPage) -> Rendered:
    started = time.perf_counter()
    wait_for = [{"type": "selector", "selector": page.wait_selector}] if page.wait_selector else []
    created = await client.post("/v1/renders", json={"url": url, "waitFor": wait_for})
    if created.status_code not in (200, 201):
        raise BenchError(f"POST /v1/renders -> {created.status_code}: {created.text[:300]}")
    render_id = created.json()["renderId"]
    post_ms = _ms(started)
    while True:
        reply = await client.get(f"/v1/renders/{render_id}", params={"wait": 30})
        body = reply.json()
        if reply.status_code != 200 or body.get("status") == "failed":
            raise BenchError(f"render {render_id} -> {reply.status_code}: {reply.text[:300]}")
        if body.get("status") == "completed":
            break
    latency = time.perf_counter() - started
    html = gzip.decompress(base64.b64decode(body["html"])).decode("utf-8")
    timing = {f"server.{k}": v for k, v in (body.get("timingBreakdown") or {}).items()}
    return Rendered(latency, html, {"postMs": post_ms, **timing})


async def raw_render(browser: Browser, url: str, bench_page: BenchPage) -> Rendered:
    """Also times the phases the server reports, named alike, plus the context close."""
    started = time.perf_counter()
    timing: dict[str, int] = {}
    context = await browser.new_context()
    try:
        page = await context.new_page()
        timing["browserInitMs"] = _ms(started)
        mark = time.perf_counter()
        await page.goto(url, wait_until="load")
        timing["navigationMs"] = _ms(mark)
        if bench_page.wait_selector:
            mark = time.perf_counter()
            await page.wait_for_selector(bench_page.wait_selector)
            timing["waitActionsMs"] = _ms(mark)
        mark = time.perf_counter()
        html = await page.content()
        timing["htmlCaptureMs"] = _ms(mark)
    finally:
        mark = time.perf_counter()
        await context.close()
        timing["closeMs"] = _ms(mark)
    return Rendered(time.perf_counter() - started, html, timing)


PARTS = ("client", "server", "site")
CpuKey = tuple[str, str]  # (part or root name, program)


@dataclass
class Phase:
    """The sum of one side's measured rounds."""

    name: str
    wall_s: float = 0.0
    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    cpu_s: dict[CpuKey, float] = field(default_factory=dict)
    timings: list[dict[str, int]] = field(default_factory=list)

    @property
    def renders(self) -> int:
        return len(self.latencies)

    @property
    def throughput(self) -> float:
        return self.renders / self.wall_s if self.wall_s else 0.0

    def pct_ms(self, q: float) -> float:
        """Nearest-rank percentile of the latencies, in ms."""
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        index = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
        return ordered[index] * 1000

    def cpu_per_render(self, part: str | None = None, program: str | None = None) -> float:
        """CPU seconds per render of the client/server/site part and/or one program."""
        if not self.renders:
            return float("nan")
        spent = sum(v for (p, prog), v in self.cpu_s.items() if part in (None, p) and program in (None, prog))
        return spent / self.renders

    def mean_timings(self) -> dict[str, float]:
        names = list(dict.fromkeys(n for t in self.timings for n in t))
        return {n: round(statistics.fmean(t.get(n, 0) for t in self.timings), 1) for n in names}


async def run_phase(
    phase: Phase,
    render: Callable[[], Awaitable[Rendered]],
    count: int,
    concurrency: int,
    cpu_roots: dict[str, int] | None = None,
    check: Callable[[str], None] = PAGES["bench"].check,
) -> None:
    """``count`` renders with ``concurrency`` workers; results are added to ``phase``."""
    remaining = count

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            try:
                done = await render()
                check(done.html)
            except Exception as exc:  # counted and reported, never as a render
                phase.failures.append(f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}")
                continue
            phase.latencies.append(done.latency_s)
            phase.timings.append(done.timing)

    cpu_before = tree_cpu(cpu_roots) if cpu_roots else {}
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    phase.wall_s += time.perf_counter() - started
    if cpu_roots:
        for key, spent in cpu_split(tree_cpu(cpu_roots), cpu_before).items():
            phase.cpu_s[key] = phase.cpu_s.get(key, 0.0) + spent


def cpu_split(after: dict[CpuKey, float], before: dict[CpuKey, float]) -> dict[CpuKey, float]:
    """Per (part, program): the tree of this process ("all") minus the server's and the site's
    trees is the client side (this script, its Playwright driver and the raw Chromium)."""
    delta = {key: after[key] - before[key] for key in after}
    out: dict[CpuKey, float] = {}
    for program in PROGRAMS:
        server, site = delta["server", program], delta["site", program]
        out["client", program] = delta["all", program] - server - site
        out["server", program] = server
        out["site", program] = site
    return out


@dataclass
class Point:
    """One page at one concurrency: both sides' measured rounds."""

    page: BenchPage
    concurrency: int
    raw: Phase
    api: Phase
    load: tuple[float, float] = (0.0, 0.0)  # 1-minute load average before and after its rounds

    @property
    def label(self) -> str:
        return f"{self.page.name} c{self.concurrency}"


async def bench(
    args: argparse.Namespace, site_url: str, api_url: str, key: str, pids: dict[str, int]
) -> list[Point]:
    roots = {"all": os.getpid(), **pids}
    limits = httpx.Limits(
        max_connections=args.concurrency * 2, max_keepalive_connections=args.concurrency * 2
    )
    headers = {"Authorization": f"Bearer {key}"}
    points: list[Point] = []
    async with (
        async_playwright() as playwright,
        httpx.AsyncClient(base_url=api_url, headers=headers, timeout=60, limits=limits) as client,
    ):
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=list(RAW_FLAGS), headless=True
        )
        for name in args.pages:
            page = PAGES[name]
            url = f"{site_url}{page.path}"
            sides = render_sides(browser, client, url, page)
            for concurrency in args.concurrencies:
                point = Point(page, concurrency, Phase("raw Playwright"), Phase("browserfleet API"))
                await measure(point, sides, args, roots)
                points.append(point)
        await browser.close()
    return points


def render_sides(
    browser: Browser, client: httpx.AsyncClient, url: str, page: BenchPage
) -> dict[str, Callable[[], Awaitable[Rendered]]]:
    return {"raw": lambda: raw_render(browser, url, page), "api": lambda: api_render(client, url, page)}


async def measure(
    point: Point,
    sides: dict[str, Callable[[], Awaitable[Rendered]]],
    args: argparse.Namespace,
    roots: dict[str, int],
) -> None:
    """Warm-up renders per side, then ``args.rounds`` rounds of raw, then api."""
    c, check = point.concurrency, point.page.check
    for name, render in sides.items():
        warm = Phase(f"warm-up {name}")
        await run_phase(warm, render, args.warmup, c, check=check)
        if warm.failures:
            raise BenchError(f"warm-up of {name} ({point.label}) failed: {warm.failures[0]}")
    per_round = [args.renders // args.rounds + (i < args.renders % args.rounds) for i in range(args.rounds)]
    phases = {"raw": point.raw, "api": point.api}
    before = loadavg()
    for index, count in enumerate(per_round, 1):
        for name in ("raw", "api"):
            await run_phase(phases[name], sides[name], count, c, roots, check=check)
        log(f"{point.label}: round {index}/{args.rounds}, {count} renders per side done")
    point.load = (before, loadavg())


# --- report -------------------------------------------------------------------------------------


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def loadavg() -> float:
    """The 1-minute load average: background noise (the machine's cores: ``os.cpu_count()``)."""
    with open("/proc/loadavg") as fh:
        return float(fh.read().split()[0])


def phase_figures(phase: Phase) -> dict[str, Any]:
    return {
        "renders": phase.renders,
        "failures": len(phase.failures),
        "wall_s": round(phase.wall_s, 3),
        "renders_per_s": round(phase.throughput, 3),
        "p50_ms": round(phase.pct_ms(50), 1),
        "p95_ms": round(phase.pct_ms(95), 1),
        "cpu_s_per_render": round(phase.cpu_per_render(), 4),
        "cpu_s_per_render_by_part": {p: round(phase.cpu_per_render(part=p), 4) for p in PARTS},
        "cpu_s_per_render_by_program": {p: round(phase.cpu_per_render(program=p), 4) for p in PROGRAMS},
        "server_python_cpu_s_per_render": round(phase.cpu_per_render(part="server", program="python"), 4),
        "timing_mean_ms": phase.mean_timings(),
    }


def point_figures(point: Point) -> dict[str, Any]:
    raw, api = point.raw, point.api
    return {
        "page": point.page.name,
        "concurrency": point.concurrency,
        "loadavg": list(point.load),
        "raw": phase_figures(raw),
        "api": phase_figures(api),
        "ratio_api_raw": round(api.throughput / raw.throughput if raw.throughput else 0.0, 3),
        "p50_api_minus_raw_ms": round(api.pct_ms(50) - raw.pct_ms(50), 1),
    }


def targets(points: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Throughput ratio >= 1.15 at every concurrency >= 4, API p50 below raw at concurrency 1,
    the server's Python under 0.015 CPU-s per render (over every API render of the run)."""
    out: dict[str, dict[str, Any]] = {}
    for p in points:
        label = f"{p['page']} c{p['concurrency']}"
        if p["concurrency"] >= TARGET_RATIO_FROM:
            ratio = p["ratio_api_raw"]
            out[f"{label} throughput api/raw"] = {
                "value": ratio,
                "target": f">= {TARGET_RATIO}",
                "pass": ratio >= TARGET_RATIO,
            }
        if p["concurrency"] == 1:
            diff = p["p50_api_minus_raw_ms"]
            out[f"{label} p50 api - raw, ms"] = {"value": diff, "target": "< 0", "pass": diff < 0}
    renders = sum(p["api"]["renders"] for p in points)
    spent = sum(p["api"]["server_python_cpu_s_per_render"] * p["api"]["renders"] for p in points)
    python = round(spent / renders, 4) if renders else float("nan")
    out["server Python CPU s/render"] = {
        "value": python,
        "target": f"< {TARGET_SERVER_PYTHON_CPU_S}",
        "pass": python < TARGET_SERVER_PYTHON_CPU_S,
    }
    failures = sum(p[side]["failures"] for p in points for side in ("raw", "api"))
    out["failed renders"] = {"value": failures, "target": "0", "pass": failures == 0}
    return out


def figures(points: list[Point], args: argparse.Namespace, load: tuple[float, float]) -> dict[str, Any]:
    shown = [point_figures(point) for point in points]
    return {
        "renders": args.renders,
        "rounds": args.rounds,
        "cpus": os.cpu_count(),
        "loadavg_before": load[0],
        "loadavg_after": load[1],
        "points": shown,
        "targets": targets(shown),
    }


def _timing_line(timing: dict[str, float]) -> str:
    return ", ".join(f"{k.removesuffix('Ms')} {v:g}" for k, v in timing.items() if v)


ROWS = (
    ("renders (ok)", "renders", "{:d}"),
    ("failures", "failures", "{:d}"),
    ("wall time, s", "wall_s", "{:.2f}"),
    ("renders/s", "renders_per_s", "{:.2f}"),
    ("p50 latency, ms", "p50_ms", "{:.0f}"),
    ("p95 latency, ms", "p95_ms", "{:.0f}"),
    ("CPU s/render (all)", "cpu_s_per_render", "{:.3f}"),
)


def print_point(point: Point, out: dict[str, Any]) -> None:
    raw, api = out["raw"], out["api"]
    print(
        f"\n{point.page.path} x{raw['renders']}/{api['renders']}, concurrency {point.concurrency}, "
        f"load average {point.load[0]:g} -> {point.load[1]:g}"
    )
    print(f"{'':26}{'raw Playwright':>16}{'browserfleet API':>18}")
    for label, key, fmt in ROWS:
        print(f"{label:26}{fmt.format(raw[key]):>16}{fmt.format(api[key]):>18}")
    for by, names in (("cpu_s_per_render_by_part", PARTS), ("cpu_s_per_render_by_program", PROGRAMS)):
        for name in names:
            print(f"{'  CPU s/render, ' + name:26}{raw[by][name]:>16.3f}{api[by][name]:>18.3f}")
    print(f"raw phases, mean ms: {_timing_line(raw['timing_mean_ms'])}")
    api_timing = api["timing_mean_ms"]
    print(f"API phases, mean ms: {_timing_line(api_timing)}")
    if point.api.latencies:
        rest = statistics.fmean(point.api.latencies) * 1000 - api_timing.get("server.totalMs", 0)
        print(f"API mean latency minus server totalMs (HTTP, queue, store, blobs): {rest:.1f} ms")
    for phase in (point.raw, point.api):
        for failure in phase.failures[:3]:
            print(f"{phase.name} failure: {failure}")


def print_report(points: list[Point], out: dict[str, Any]) -> None:
    print(
        f"\n{out['renders']} renders per side and point, {out['rounds']} rounds; {out['cpus']} CPUs, "
        f"load average {out['loadavg_before']:g} before, {out['loadavg_after']:g} after"
    )
    for point, shown in zip(points, out["points"], strict=True):
        print_point(point, shown)
    print(
        f"\n{'page':8}{'c':>3}{'raw r/s':>10}{'API r/s':>10}{'ratio':>8}{'raw p50':>10}{'API p50':>10}"
        f"{'raw CPU':>10}{'API CPU':>10}{'server py':>11}"
    )
    for p in out["points"]:
        raw, api = p["raw"], p["api"]
        print(
            f"{p['page']:8}{p['concurrency']:>3}{raw['renders_per_s']:>10.2f}{api['renders_per_s']:>10.2f}"
            f"{p['ratio_api_raw']:>8.3f}{raw['p50_ms']:>10.0f}{api['p50_ms']:>10.0f}"
            f"{raw['cpu_s_per_render']:>10.3f}{api['cpu_s_per_render']:>10.3f}"
            f"{api['server_python_cpu_s_per_render']:>11.4f}"
        )
    print()
    verdict = {True: "PASS", False: "FAIL"}
    for name, target in out["targets"].items():
        print(f"{name:36}{target['value']:>10}   target {target['target']:<8} {verdict[target['pass']]}")


# --- main ---------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "-n", "--renders", type=int, default=100, help="measured renders per side and point (100)"
    )
    parser.add_argument(
        "-c",
        "--concurrency",
        dest="concurrencies",
        type=int,
        nargs="+",
        default=[1, 4, 8],
        help="concurrent renders, one point each (1 4 8)",
    )
    parser.add_argument(
        "--pages", nargs="+", choices=sorted(PAGES), default=list(PAGES), help="pages to render (bench late)"
    )
    parser.add_argument("--rounds", type=int, default=2, help="alternating raw/api rounds (2)")
    parser.add_argument("--warmup", type=int, default=5, help="uncounted renders per side first (5)")
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for the server, e.g. BROWSERFLEET_LOG_LEVEL=debug (repeatable)",
    )
    parser.add_argument(
        "--server-profile",
        type=Path,
        metavar="FILE",
        help="run the server under cProfile and write its stats to FILE (slows the API side)",
    )
    args = parser.parse_args(argv)
    args.concurrency = max(args.concurrencies)  # the server's node slots (start_server)
    if (
        args.renders < 1
        or min(args.concurrencies) < 1
        or args.warmup < 0
        or not 1 <= args.rounds <= args.renders
    ):
        parser.error("need renders >= 1, concurrency >= 1, warmup >= 0 and 1 <= rounds <= renders")
    return args


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # unwinds through the ExitStack, which stops the subprocesses


@contextlib.contextmanager
def workspace() -> Iterator[tuple[contextlib.ExitStack, Path]]:
    with tempfile.TemporaryDirectory(prefix="bf-bench-") as tmp, contextlib.ExitStack() as stack:
        yield stack, Path(tmp)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        with workspace() as (stack, tmp):
            log("starting the test site and the browserfleet server ...")
            site, site_url = start_site(stack, tmp)
            data_dir = tmp / "data"
            server, api_url, key = start_server(stack, tmp, data_dir, args)
            log(f"site {site_url}, server {api_url}; warming up, then {args.rounds} rounds of raw + api")
            pids = {"server": server.pid, "site": site.pid}
            load_before = loadavg()
            points = asyncio.run(bench(args, site_url, api_url, key, pids))
            load = (load_before, loadavg())
    except BenchError as exc:
        log(f"error: {exc}")
        return 2
    except KeyboardInterrupt:
        log("interrupted; subprocesses stopped")
        return 130
    out = figures(points, args, load)
    print_report(points, out)
    if args.json:
        print(json.dumps(out, indent=2))
    passed = all(t["pass"] for t in out["targets"].values())
    return 1 if args.strict and not passed else 0


if __name__ == "__main__":
    sys.exit(main())
