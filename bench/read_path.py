"""Read path: ``GET /v1/renders/{id}`` of a completed render beside ``GET /health``, driven by wrk.

Starts the local test site and a real ``browserfleet serve`` (subprocesses; helpers from
``render_throughput.py``), renders the site's ``/bench`` page once, then runs ``wrk`` (Debian
package, installed by ``make install``) for ``--duration`` seconds against each endpoint at each
connection count (default 20 then 200), the two endpoints alternating so background load hits
both alike. Every answer is checked: a non-2xx status, a socket error or a timeout is counted and
reported, and the render's body is compared before and after the load.

Prints requests/s, p50/p99 latency and the server's CPU time per request (``/proc``: its own
process; steadier than the latencies when other work shares the machine) of each run and checks
the targets (render >= 2,000 requests/s at 200 connections, p99 <= 25 ms at 20 connections).
Exit status is 0 unless ``--strict``.

    .venv/bin/python bench/read_path.py [-d 10] [-c 20 200] [--if-none-match] [--json] [--strict]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from render_throughput import (
    CLK_TCK,
    BenchError,
    _terminate,
    loadavg,
    log,
    start_server,
    start_site,
    workspace,
)

TARGET_RPS_200 = 2000.0
TARGET_P99_MS_20 = 25.0
WRK_THREADS = 2
RENDER_TIMEOUT_S = 60.0
# wrk's Lua hook: one JSON line after the run (latency in microseconds).
WRK_REPORT = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "bytes": %d, "p50_us": %d, "p99_us": %d, "max_us": %d,'
    .. ' "connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}\\n',
    summary.requests, summary.duration, summary.bytes, latency:percentile(50),
    latency:percentile(99), latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end
"""


@dataclass(frozen=True)
class Run:
    """One wrk run: an endpoint at a connection count."""

    target: str
    connections: int
    requests: int
    seconds: float
    bytes: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    errors: dict[str, int]
    server_cpu_s: float  # the server process's own CPU time during the run

    @property
    def cpu_us_per_request(self) -> float:
        return self.server_cpu_s / self.requests * 1e6 if self.requests else 0.0

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "connections": self.connections,
            "requests": self.requests,
            "requests_per_s": round(self.rps, 1),
            "p50_ms": round(self.p50_ms, 2),
            "p99_ms": round(self.p99_ms, 2),
            "max_ms": round(self.max_ms, 2),
            "bytes_per_response": round(self.bytes / self.requests) if self.requests else 0,
            "server_cpu_us_per_request": round(self.cpu_us_per_request, 1),
            "errors": self.errors,
        }


# --- set-up -------------------------------------------------------------------------------------


def seed_render(api_url: str, key: str, site_url: str) -> tuple[str, httpx.Response]:
    """A completed render of the site's ``/bench`` page: its id and its final response."""
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=f"{api_url}/v1", headers=headers, timeout=RENDER_TIMEOUT_S + 5) as client:
        created = client.post("/renders", json={"url": f"{site_url}/bench", "waitFor": []})
        if created.status_code not in (200, 201):
            raise BenchError(f"POST /v1/renders -> {created.status_code}: {created.text[:300]}")
        render_id: str = created.json()["renderId"]
        deadline = time.monotonic() + RENDER_TIMEOUT_S
        while time.monotonic() < deadline:
            reply = client.get(f"/renders/{render_id}", params={"wait": 10})
            status = reply.json().get("status") if reply.status_code in (200, 422) else None
            if status == "completed":
                return render_id, reply
            if status != "processing":
                raise BenchError(f"render {render_id} -> {reply.status_code}: {reply.text[:300]}")
    raise BenchError(f"render {render_id} not completed after {RENDER_TIMEOUT_S:g} s")


def wrk_binary() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise BenchError("wrk not found: `make install` installs it (Debian package wrk)")
    return found


# --- load ---------------------------------------------------------------------------------------


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of one process so far (``/proc/PID/stat``)."""
    with open(f"/proc/{pid}/stat", "rb") as fh:
        raw = fh.read()
    fields = raw[raw.rfind(b")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def run_wrk(
    url: str, connections: int, seconds: int, headers: dict[str, str], script: Path, target: str, server: int
) -> Run:
    argv = [wrk_binary(), f"-t{min(WRK_THREADS, connections)}", f"-c{connections}", f"-d{seconds}s"]
    argv += ["--timeout", "5s", "-s", str(script)]
    for name, value in headers.items():
        argv += ["-H", f"{name}: {value}"]
    cpu_before = process_cpu_s(server)
    done = subprocess.run([*argv, url], capture_output=True, text=True, check=False, timeout=seconds + 60)
    cpu = process_cpu_s(server) - cpu_before
    report = next((line for line in done.stdout.splitlines() if line.startswith("{")), None)
    if done.returncode or report is None:
        raise BenchError(
            f"wrk failed (status {done.returncode}): {done.stderr.strip() or done.stdout[-500:]}"
        )
    data = json.loads(report)
    errors = {k: int(data[k]) for k in ("connect", "read", "write", "status", "timeout")}
    return Run(
        target=target,
        connections=connections,
        requests=int(data["requests"]),
        seconds=data["duration_us"] / 1e6,
        bytes=int(data["bytes"]),
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        max_ms=data["max_us"] / 1000,
        errors=errors,
        server_cpu_s=cpu,
    )


@dataclass(frozen=True)
class Target:
    name: str
    path: str
    headers: dict[str, str]


def targets(render_id: str, key: str, etag: str | None, if_none_match: bool) -> list[Target]:
    auth = {"Authorization": f"Bearer {key}"}
    out = [Target("render", f"/v1/renders/{render_id}", auth)]
    if if_none_match:
        if etag is None:
            raise BenchError("--if-none-match: the server sent no ETag for the completed render")
        out.append(Target("render 304", f"/v1/renders/{render_id}", auth | {"If-None-Match": etag}))
    out.append(Target("health", "/health", {}))
    return out


def load_runs(
    api_url: str, plan: list[Target], args: argparse.Namespace, script: Path, server: int
) -> list[Run]:
    runs = []
    for connections in args.connections:
        for target in plan:
            log(f"wrk {target.name}: {connections} connections, {args.duration} s ...")
            url = api_url + target.path
            runs.append(run_wrk(url, connections, args.duration, target.headers, script, target.name, server))
    return runs


# --- report -------------------------------------------------------------------------------------


def figures(
    runs: list[Run], args: argparse.Namespace, load: tuple[float, float], same: bool
) -> dict[str, Any]:
    def find(target: str, connections: int) -> Run | None:
        return next((r for r in runs if r.target == target and r.connections == connections), None)

    at_200, at_20 = find("render", 200), find("render", 20)
    out: dict[str, Any] = {
        "duration_s": args.duration,
        "cpus": os.cpu_count(),
        "loadavg_before": load[0],
        "loadavg_after": load[1],
        "runs": [r.to_json() for r in runs],
        "targets": {
            "render_rps_at_200": {
                "target": f">= {TARGET_RPS_200:g}",
                "value": round(at_200.rps, 1) if at_200 else None,
                "pass": bool(at_200 and at_200.rps >= TARGET_RPS_200),
            },
            "render_p99_ms_at_20": {
                "target": f"<= {TARGET_P99_MS_20:g}",
                "value": round(at_20.p99_ms, 2) if at_20 else None,
                "pass": bool(at_20 and at_20.p99_ms <= TARGET_P99_MS_20),
            },
            "render_errors": {
                "target": "0",
                "pass": not any(sum(r.errors.values()) for r in runs if r.target.startswith("render")),
            },
            "same_body_after_load": {"target": "identical", "pass": same},
        },
    }
    return out


def print_report(out: dict[str, Any]) -> None:
    print(
        f"\n{out['duration_s']} s per run; {out['cpus']} CPUs, load average "
        f"{out['loadavg_before']:g} before, {out['loadavg_after']:g} after"
    )
    print(
        f"{'endpoint':14}{'conns':>6}{'requests/s':>12}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}"
        f"{'bytes':>8}{'CPU us/req':>12}  errors"
    )
    for run in out["runs"]:
        errors = ", ".join(f"{k} {v}" for k, v in run["errors"].items() if v) or "-"
        print(
            f"{run['target']:14}{run['connections']:>6}{run['requests_per_s']:>12.0f}{run['p50_ms']:>9.1f}"
            f"{run['p99_ms']:>9.1f}{run['max_ms']:>9.0f}{run['bytes_per_response']:>8}"
            f"{run['server_cpu_us_per_request']:>12.0f}  {errors}"
        )
    verdict = {True: "PASS", False: "FAIL"}
    print()
    for name, target in out["targets"].items():
        value = "" if target.get("value") is None else f"{target['value']:g}"
        print(f"{name:24}{value:>10}   target {target['target']:<12}{verdict[target['pass']]}")


# --- main ---------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("-d", "--duration", type=int, default=10, help="seconds per wrk run (10)")
    parser.add_argument(
        "-c", "--connections", type=int, nargs="+", default=[20, 200], help="connection counts (20 200)"
    )
    parser.add_argument(
        "--if-none-match", action="store_true", help="also poll with the render's ETag (304 answers)"
    )
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for the server, e.g. BROWSERFLEET_LOG_LEVEL=debug (repeatable)",
    )
    args = parser.parse_args(argv)
    if args.duration < 1 or min(args.connections) < 1:
        parser.error("need duration >= 1 and connections >= 1")
    # for render_throughput.start_server: node slots (one render is all this needs), no profiler
    args.concurrency = 2
    args.server_profile = None
    return args


def measure(args: argparse.Namespace) -> tuple[list[Run], tuple[float, float], bool]:
    wrk_binary()
    with workspace() as (stack, tmp):
        log("starting the test site and the browserfleet server ...")
        _site, site_url = start_site(stack, tmp)
        server, api_url, key = start_server(stack, tmp, tmp / "data", args)
        render_id, first = seed_render(api_url, key, site_url)
        log(f"server {api_url}, render {render_id} completed ({len(first.content):,} bytes)")
        script = tmp / "report.lua"
        script.write_text(WRK_REPORT)
        plan = targets(render_id, key, first.headers.get("etag"), args.if_none_match)
        load_before = loadavg()
        runs = load_runs(api_url, plan, args, script, server.pid)
        load = (load_before, loadavg())
        after = httpx.get(f"{api_url}/v1/renders/{render_id}", headers=plan[0].headers, timeout=10)
        return runs, load, after.status_code == 200 and after.content == first.content


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        runs, load, same = measure(args)
    except BenchError as exc:
        log(f"error: {exc}")
        return 2
    except KeyboardInterrupt:
        log("interrupted; subprocesses stopped")
        return 130
    out = figures(runs, args, load, same)
    print_report(out)
    if args.json:
        print(json.dumps(out, indent=2))
    passed = all(t["pass"] for t in out["targets"].values())
    return 1 if args.strict and not passed else 0


if __name__ == "__main__":
    sys.exit(main())
