"""Session start-up and idle memory: POST /v1/sessions -> first CDP answer, and PSS per idle session.

Starts a real ``browserfleet serve`` (a subprocess; the process helpers are render_throughput.py's),
then with the official ``browserbase`` SDK:

* latency - creates N sessions one after another; for each, the time from the start of
  ``sessions.create`` until a raw WebSocket client connected to ``connectUrl`` gets the answer to
  ``Browser.getVersion`` (also split: create returned / WS open / answer). Each session is then
  released. ``--warmup`` uncounted sessions go first;
* memory - PSS (``/proc/PID/smaps_rollup``) summed over the server's whole process tree with no
  session open, then with M idle ``keepAlive`` sessions open (each answered one CDP command, no
  client attached): (with - without) / M is the marginal memory of an idle session. Also printed:
  the mean PSS of one session browser's own process tree (its OS session: every session browser
  leads one).

Prints p50/p95 and the memory figures against the targets (p50 <= 300 ms, <= 60 MB PSS per idle
session); exit status 0 unless ``--strict`` (then 1 on a missed target; 2 on a set-up error).

``--live 0,50,100`` measures at scale instead: for each N, it first opens idle ``keepAlive``
sessions until N are live (and stay live), then times ``-n`` sessions (create -> first CDP answer,
each released after) beside them; then the next N. It prints p50/p95 per N, the server's PSS per
idle session at the largest N (its process tree with N live against 0), and ``/pressure``'s
session budget (how many the server would still take). Target: p50 <= 300 ms at 100 live.

``--containment on|off|both`` sets ``BROWSERFLEET_BROWSER_CONTAINMENT`` (``on`` = ``required``:
each browser in its own sandbox, docs/security.md, "Layer 2"); ``both`` measures off, then on,
in the same run (a fresh server each) and prints the cost of containment. Default: the server's
environment decides.

    .venv/bin/python bench/session_startup.py [-n 20] [--idle 10] [--warmup 2] [--containment both]
        [--live 0,50,100] [--json] [--strict]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import websockets.sync.client as ws_client
from browserbase import Browserbase
from render_throughput import (
    BenchError,
    _terminate,
    loadavg,
    log,
    start_server,
    workspace,
)

TARGET_P50_MS = 300.0
TARGET_PSS_MB = 60.0
HEADLESS_SHELL = "chromium-headless-shell"
SETTLE_S = 2.0  # let idle browsers finish start-up work before reading their memory


# --- /proc --------------------------------------------------------------------------------------


def _stat(pid: int) -> tuple[int, int] | None:
    """(ppid, sid) of a live process, None if it is gone or a zombie."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    fields = raw[raw.rfind(b")") + 2 :].split()
    if fields[0] == b"Z":
        return None
    return int(fields[1]), int(fields[3])


def _table() -> dict[int, tuple[int, int]]:
    table: dict[int, tuple[int, int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit() and (st := _stat(int(entry.name))) is not None:
            table[int(entry.name)] = st
    return table


def tree(root: int, table: dict[int, tuple[int, int]]) -> list[int]:
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    out, todo = [root], [root]
    while todo:
        for child in children.get(todo.pop(), ()):
            out.append(child)
            todo.append(child)
    return out


def pss_kb(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
                    break
    return total


def session_browsers(server_pid: int, table: dict[int, tuple[int, int]]) -> list[int]:
    """Session browsers under the server: headless shells launched with a session user-data-dir."""
    found = []
    for pid in tree(server_pid, table):
        with contextlib.suppress(OSError):
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            if Path(argv[0].decode()).name == HEADLESS_SHELL and any(
                a.startswith(b"--user-data-dir=") and b"browserfleet-session-" in a for a in argv
            ):
                found.append(pid)
    return [pid for pid in found if table[pid][1] == pid]  # the session leader, not its helpers


# --- sessions -----------------------------------------------------------------------------------


def first_cdp_answer(connect_url: str) -> tuple[float, str]:
    """Open the session's CDP WebSocket, ask ``Browser.getVersion``; (ws-open time, product)."""
    with ws_client.connect(connect_url, max_size=None, open_timeout=30) as ws:
        opened = time.perf_counter()
        ws.send(json.dumps({"id": 1, "method": "Browser.getVersion"}))
        while True:
            reply = json.loads(ws.recv(timeout=30))
            if reply.get("id") == 1:
                product = reply.get("result", {}).get("product")
                if not isinstance(product, str):
                    raise BenchError(f"unexpected Browser.getVersion reply: {reply}")
                return opened, product


def start_one(client: Browserbase, keep_alive: bool) -> tuple[str, dict[str, float]]:
    started = time.perf_counter()
    session = client.sessions.create(keep_alive=keep_alive)
    created = time.perf_counter()
    if session.status != "RUNNING":
        raise BenchError(f"session {session.id} is {session.status}")
    opened, product = first_cdp_answer(session.connect_url)
    answered = time.perf_counter()
    if "Chrome" not in product:
        raise BenchError(f"unexpected browser product {product!r}")
    ms = {
        "total": (answered - started) * 1000,
        "create": (created - started) * 1000,
        "wsOpen": (opened - created) * 1000,
        "firstAnswer": (answered - opened) * 1000,
    }
    return session.id, ms


def release(client: Browserbase, session_id: str) -> None:
    ended = client.sessions.update(session_id, status="REQUEST_RELEASE")
    if ended.status != "COMPLETED":
        raise BenchError(f"session {session_id} released as {ended.status}")


def latency_phase(client: Browserbase, args: argparse.Namespace) -> list[dict[str, float]]:
    samples = []
    for i in range(args.warmup + args.sessions):
        session_id, ms = start_one(client, keep_alive=False)
        release(client, session_id)
        if i >= args.warmup:
            samples.append(ms)
    return samples


def memory_phase(client: Browserbase, server_pid: int, idle: int) -> dict[str, float]:
    time.sleep(SETTLE_S)
    base_kb = pss_kb(tree(server_pid, _table()))
    opened: list[str] = []
    try:
        for _ in range(idle):
            opened.append(start_one(client, keep_alive=True)[0])
        time.sleep(SETTLE_S)
        table = _table()
        with_kb = pss_kb(tree(server_pid, table))
        browsers = session_browsers(server_pid, table)
        if len(browsers) != idle:
            raise BenchError(f"expected {idle} session browsers under the server, found {len(browsers)}")
        own_kb = [pss_kb([p for p, (_, sid) in table.items() if sid == b]) for b in browsers]
    finally:
        for session_id in opened:
            release(client, session_id)
    return {
        "baselineMB": base_kb / 1024,
        "withIdleMB": with_kb / 1024,
        "marginalPerSessionMB": (with_kb - base_kb) / idle / 1024,
        "browserTreePerSessionMB": statistics.fmean(own_kb) / 1024,
    }


# --- at scale: --live N ---------------------------------------------------------------------------

FILL_THREADS = 4


def fill(client: Browserbase, held: list[str], target: int) -> None:
    """Open idle keepAlive sessions (each answered one CDP command) until ``target`` are live."""
    with ThreadPoolExecutor(FILL_THREADS) as pool:
        held += [sid for sid, _ in pool.map(lambda _: start_one(client, True), range(target - len(held)))]


def release_all(client: Browserbase, held: list[str]) -> None:
    with ThreadPoolExecutor(FILL_THREADS) as pool:
        list(pool.map(lambda sid: release(client, sid), held))
    held.clear()


def live_phase(
    client: Browserbase, base_url: str, server_pid: int, args: argparse.Namespace
) -> dict[str, Any]:
    held: list[str] = []
    by_live: dict[str, Any] = {}
    memory: dict[str, float] = {}
    try:
        time.sleep(SETTLE_S)
        base_kb = pss_kb(tree(server_pid, _table()))
        base_fds = len(os.listdir(f"/proc/{server_pid}/fd"))
        for live in args.live:
            log(f"opening idle sessions until {live} are live ...")
            fill(client, held, live)
            time.sleep(SETTLE_S)
            load = loadavg()
            samples = latency_phase(client, args)
            totals = [sample["total"] for sample in samples]
            budget = httpx.get(f"{base_url}/pressure", timeout=30).json()["sessions"]
            by_live[str(live)] = {
                "p50": round(statistics.median(totals), 1),
                "p95": round(percentile(totals, 95), 1),
                "max": round(max(totals), 1),
                "loadavg": load,
                "sessionLimit": budget["limit"],
            }
        if held:
            with_kb = pss_kb(tree(server_pid, _table()))
            memory = {
                "liveSessions": len(held),
                "pssPerIdleSessionMB": round((with_kb - base_kb) / len(held) / 1024, 1),
                "serverFds": len(os.listdir(f"/proc/{server_pid}/fd")),
                "serverFdsWithNone": base_fds,
            }
    finally:
        log(f"releasing {len(held)} sessions ...")
        release_all(client, held)
    largest = str(args.live[-1])
    p50 = by_live[largest]["p50"]
    return {
        "byLive": by_live,
        "memory": memory,
        "cpus": os.cpu_count(),
        "targets": {
            "p50_ms_at_largest": {"value": p50, "target": TARGET_P50_MS, "pass": p50 <= TARGET_P50_MS}
        },
    }


def print_live(out: dict[str, Any], sessions: int) -> None:
    print(f"session create -> first CDP answer, {sessions} sessions timed beside N live idle ones")
    for live, row in out["byLive"].items():
        print(
            f"  N={live:>4}: p50 {row['p50']} ms   p95 {row['p95']} ms   max {row['max']} ms   "
            f"(load {row['loadavg']}, session limit {row['sessionLimit']})"
        )
    if out["memory"]:
        mem = out["memory"]
        print(f"  PSS per idle session with {mem['liveSessions']} live: {mem['pssPerIdleSessionMB']} MB")
        print(
            f"  server file descriptors: {mem['serverFdsWithNone']} with none live, "
            f"{mem['serverFds']} with them"
        )
    for name, target in out["targets"].items():
        verdict = "PASS" if target["pass"] else "FAIL"
        print(f"  {verdict}  {name} = {target['value']} (target <= {target['target']})")


# --- report -------------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def figures(
    samples: list[dict[str, float]], memory: dict[str, float], load: tuple[float, float]
) -> dict[str, Any]:
    totals = [s["total"] for s in samples]
    p50 = statistics.median(totals)
    per_session = memory["marginalPerSessionMB"]
    return {
        "sessions": len(samples),
        "latencyMs": {
            "p50": round(p50, 1),
            "p95": round(percentile(totals, 95), 1),
            "min": round(min(totals), 1),
            "max": round(max(totals), 1),
            "meanSplit": {
                k: round(statistics.fmean(s[k] for s in samples), 1) for k in samples[0] if k != "total"
            },
        },
        "memory": {k: round(v, 1) for k, v in memory.items()},
        "loadavg": {"before": load[0], "after": load[1], "cpus": os.cpu_count()},
        "targets": {
            "p50_ms": {"value": round(p50, 1), "target": TARGET_P50_MS, "pass": p50 <= TARGET_P50_MS},
            "pss_mb_per_idle_session": {
                "value": round(per_session, 1),
                "target": TARGET_PSS_MB,
                "pass": per_session <= TARGET_PSS_MB,
            },
        },
    }


def print_report(out: dict[str, Any], idle: int) -> None:
    lat, mem = out["latencyMs"], out["memory"]
    split = ", ".join(f"{k} {v} ms" for k, v in lat["meanSplit"].items())
    print(f"session create -> first CDP answer over {out['sessions']} sessions (sequential)")
    print(f"  p50 {lat['p50']} ms   p95 {lat['p95']} ms   min {lat['min']} ms   max {lat['max']} ms")
    print(f"  mean split: {split}")
    print(f"memory with {idle} idle sessions (PSS, server process tree)")
    print(f"  baseline {mem['baselineMB']} MB, with sessions {mem['withIdleMB']} MB")
    print(f"  marginal per idle session {mem['marginalPerSessionMB']} MB")
    print(f"  one session browser's own tree {mem['browserTreePerSessionMB']} MB (mean)")
    load = out["loadavg"]
    print(f"load average {load['before']} -> {load['after']} on {load['cpus']} CPUs")
    for name, target in out["targets"].items():
        verdict = "PASS" if target["pass"] else "FAIL"
        print(f"  {verdict}  {name} = {target['value']} (target <= {target['target']})")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", "--sessions", type=int, default=20, help="sessions timed (default 20)")
    parser.add_argument("--idle", type=int, default=10, help="idle sessions for the memory figure (10)")
    parser.add_argument("--warmup", type=int, default=2, help="uncounted sessions first (2)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON at the end")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument(
        "--containment",
        choices=("on", "off", "both"),
        default=None,
        help="browser containment of the server (both: off, then on, in this run); default: its environment",
    )
    parser.add_argument(
        "--server-env", action="append", default=[], metavar="NAME=VALUE", help="extra server environment"
    )
    parser.add_argument(
        "--live",
        default=None,
        metavar="N,N,...",
        help="time create -> first CDP answer while N idle sessions are live, for each N (e.g. 0,50,100)",
    )
    args = parser.parse_args(argv)
    if args.sessions < 1 or not 1 <= args.idle <= 256 or args.warmup < 0:
        parser.error("need sessions >= 1, 1 <= idle <= 256 and warmup >= 0")
    if args.live is not None:
        args.live = sorted({int(n) for n in args.live.split(",")})
        if not args.live or args.live[0] < 0 or args.live[-1] > 500:
            parser.error("--live wants counts between 0 and 500, e.g. 0,50,100")
    # for render_throughput.start_server: project concurrency and node slots, no profiler; the
    # server sizes its session slots itself (by memory)
    args.concurrency = max(10, args.idle)
    args.server_profile = None
    return args


CONTAINMENT = {"on": "required", "off": "off"}


def measure(args: argparse.Namespace, containment: str | None) -> dict[str, Any]:
    """One server (``containment``: its BROWSERFLEET_BROWSER_CONTAINMENT, None: as configured)."""
    side = argparse.Namespace(**vars(args))
    if containment is not None:
        side.server_env = [*args.server_env, f"BROWSERFLEET_BROWSER_CONTAINMENT={CONTAINMENT[containment]}"]
    with workspace() as (stack, tmp):
        log(f"starting the browserfleet server (containment {containment or 'as configured'}) ...")
        server, base_url, key = start_server(stack, tmp, tmp / "data", side)
        client = Browserbase(api_key=key, base_url=base_url, max_retries=0)
        if args.live is not None:
            return live_phase(client, base_url, server.pid, args)
        log(f"server {base_url}: {args.warmup} + {args.sessions} sessions, then {args.idle} idle")
        load_before = loadavg()
        samples = latency_phase(client, args)
        memory = memory_phase(client, server.pid, args.idle)
        load = (load_before, loadavg())
    return figures(samples, memory, load)


def print_cost(results: dict[str, dict[str, Any]]) -> None:
    off, on = results["off"], results["on"]
    p50_off, p50_on = off["latencyMs"]["p50"], on["latencyMs"]["p50"]
    pss_off, pss_on = off["memory"]["marginalPerSessionMB"], on["memory"]["marginalPerSessionMB"]
    print("cost of containment (same run, off then on)")
    print(f"  session create -> first CDP p50: {p50_off} ms -> {p50_on} ms ({p50_on - p50_off:+.1f} ms)")
    print(f"  idle PSS per session: {pss_off} MB -> {pss_on} MB ({pss_on - pss_off:+.1f} MB)")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    sides: list[str | None] = ["off", "on"] if args.containment == "both" else [args.containment]
    results: dict[str, dict[str, Any]] = {}
    try:
        for side in sides:
            results[side or "configured"] = measure(args, side)
    except BenchError as exc:
        log(f"error: {exc}")
        return 2
    except KeyboardInterrupt:
        log("interrupted; subprocesses stopped")
        return 130
    for name, out in results.items():
        if len(results) > 1:
            print(f"--- containment {name}")
        if args.live is not None:
            print_live(out, args.sessions)
        else:
            print_report(out, args.idle)
    if len(results) > 1:
        print_cost(results)
    if args.json:
        print(json.dumps(results if len(results) > 1 else next(iter(results.values())), indent=2))
    passed = all(t["pass"] for out in results.values() for t in out["targets"].values())
    return 1 if args.strict and not passed else 0


if __name__ == "__main__":
    sys.exit(main())
