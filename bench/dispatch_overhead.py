"""Dispatch overhead of distributed mode: submit → node start through Redis, with a no-op executor.

Starts a throwaway Redis and PostgreSQL (tests/support; or uses ``--redis-url``/``--database-url``)
and, for each node count (1, 2, 4), that many node *processes*: each runs the real
:class:`~browserfleet.node.worker.Node` on the Redis dispatcher and the PostgreSQL store, with a
no-op executor that records when it was started. This process submits jobs the way core does
(insert the job, then ``Dispatcher.submit``):

* **latency** — ``--latency-jobs`` jobs, one every ``--interval-ms`` (an open loop, kept below
  saturation); overhead = the executor's start minus the moment ``submit`` was called: Redis (submit
  script, wake-up, claim script) plus the node's claim in the store (``queued → running``) and its
  ``running`` event. p50/p99 in ms, and the Redis part alone (submit → the claim returned);
* **throughput** — ``--burst-jobs`` jobs inserted first, then submitted as fast as they go;
  jobs/s = jobs / (last job finished minus first submit).

    .venv/bin/python bench/dispatch_overhead.py [--nodes 1 2 4] [--slots 4] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import statistics
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from browserfleet import logs  # noqa: E402
from browserfleet.core.accounts import new_id  # noqa: E402
from browserfleet.core.jobs import JobKind, JobState, NodeLabels, Route  # noqa: E402
from browserfleet.dispatch.base import Ticket  # noqa: E402
from browserfleet.dispatch.redis import RedisDispatcher  # noqa: E402
from browserfleet.node.executor import Execution, Executor  # noqa: E402
from browserfleet.node.worker import Node  # noqa: E402
from browserfleet.store.blobs import FileBlobStore  # noqa: E402
from browserfleet.store.records import JobRecord  # noqa: E402
from browserfleet.store.repo import Store  # noqa: E402

TARGET_P50_MS = 5.0


CLAIMED: dict[str, float] = {}  # job id → when the node's claim returned the ticket (node process)


class TimedDispatcher(RedisDispatcher):
    """Notes when a claim hands a ticket over, to split the overhead into Redis and the store."""

    async def claim(self, labels: NodeLabels, kinds: frozenset[JobKind] | None = None) -> Ticket:
        ticket = await super().claim(labels, kinds)
        CLAIMED[ticket.job_id] = time.time()
        return ticket


class NoopExecutor(Executor):
    kind = JobKind.RENDER

    async def run(self, job: JobRecord) -> Execution:
        now = time.time()
        return Execution(result={"started": now, "claimed": CLAIMED.pop(job.id, now)}, billable=False)


def node_process(
    redis_url: str, database_url: str, prefix: str, node_id: str, slots: int, ready: Any
) -> None:
    asyncio.run(_node_main(redis_url, database_url, prefix, node_id, slots, ready))


async def _node_main(
    redis_url: str, database_url: str, prefix: str, node_id: str, slots: int, ready: Any
) -> None:
    logs.configure("warning")  # a log line per job would be part of the measurement
    store = await Store.open(database_url)
    dispatcher = TimedDispatcher(redis_url, prefix=prefix, ttl_s=15)
    await dispatcher.start()
    node = Node(
        NodeLabels(node_id=node_id),
        slots,
        store=store,
        blobs=FileBlobStore(Path(f"/tmp/bench-blobs-{node_id}")),
        dispatcher=dispatcher,
        executors={JobKind.RENDER: NoopExecutor()},
    )
    await node.start()
    ready.set()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.Event().wait()


async def _insert(store: Store, project_id: str, count: int) -> list[JobRecord]:
    return [
        await store.insert_job(
            job_id=new_id("ben"),
            project_id=project_id,
            kind=JobKind.RENDER,
            route=Route(),
            spec={"timeout_s": 30},
        )
        for _ in range(count)
    ]


async def _wait_done(store: Store, ids: list[str]) -> list[JobRecord]:
    deadline = time.monotonic() + 120
    while True:
        jobs = [await store.get_job(i) for i in ids]
        done = [j for j in jobs if j is not None and j.state is JobState.COMPLETED]
        if len(done) == len(ids):
            return done
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {len(done)}/{len(ids)} jobs completed")
        await asyncio.sleep(0.2)


def _ticket(job: JobRecord) -> Ticket:
    return Ticket(job.id, job.project_id, job.kind, job.route)


async def measure(
    redis_url: str, database_url: str, prefix: str, args: argparse.Namespace
) -> dict[str, float]:
    store = await Store.open(database_url)
    dispatcher = RedisDispatcher(redis_url, prefix=prefix)
    await dispatcher.start()
    try:
        project = await store.create_project(
            project_id=new_id("prj"),
            name=f"bench-{uuid.uuid4().hex[:8]}",
            concurrency=10_000,
            timeout_s=60,
            quota=None,
        )
        # latency: one job every interval
        jobs = await _insert(store, project.id, args.latency_jobs)
        submitted: dict[str, float] = {}
        for job in jobs:
            submitted[job.id] = time.time()
            await dispatcher.submit(_ticket(job))
            await asyncio.sleep(args.interval_ms / 1000)
        done = await _wait_done(store, [j.id for j in jobs])
        overhead = sorted((float((j.result or {})["started"]) - submitted[j.id]) * 1000 for j in done)
        redis_part = sorted((float((j.result or {})["claimed"]) - submitted[j.id]) * 1000 for j in done)
        # throughput: a burst
        burst = await _insert(store, project.id, args.burst_jobs)
        first = time.time()
        await asyncio.gather(*(dispatcher.submit(_ticket(j)) for j in burst))
        finished = await _wait_done(store, [j.id for j in burst])
        last = max(j.finished_at.timestamp() for j in finished if j.finished_at)
    finally:
        await dispatcher.close()
        await store.close()
    return {
        "p50_ms": statistics.median(overhead),
        "p99_ms": _p99(overhead),
        "redis_p50_ms": statistics.median(redis_part),
        "redis_p99_ms": _p99(redis_part),
        "jobs_per_s": len(burst) / (last - first),
    }


def _p99(values: list[float]) -> float:
    return values[min(len(values) - 1, round(len(values) * 0.99) - 1)]


@contextlib.contextmanager
def servers(args: argparse.Namespace) -> Iterator[tuple[str, str]]:
    if args.redis_url and args.database_url:
        yield args.redis_url, args.database_url
        return
    from tests.support.postgres import PostgresServer
    from tests.support.redis import RedisServer

    with RedisServer() as redis, PostgresServer(database="bench") as postgres:
        yield redis.url, postgres.url


def run_one(redis_url: str, database_url: str, count: int, args: argparse.Namespace) -> dict[str, float]:
    prefix = f"bench{uuid.uuid4().hex[:6]}"
    context = multiprocessing.get_context("spawn")
    ready = [context.Event() for _ in range(count)]
    procs = [
        context.Process(
            target=node_process,
            args=(redis_url, database_url, prefix, f"bench-node-{i}", args.slots, ready[i]),
        )
        for i in range(count)
    ]
    for proc in procs:
        proc.start()
    try:
        for event in ready:
            if not event.wait(120):
                raise RuntimeError("a node did not start")
        return asyncio.run(measure(redis_url, database_url, prefix, args))
    finally:
        for proc in procs:
            proc.terminate()
            proc.join(10)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--nodes", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--slots", type=int, default=4, help="slots per node")
    parser.add_argument("--latency-jobs", type=int, default=200)
    parser.add_argument("--interval-ms", type=float, default=50.0, help="keep well below saturation")
    parser.add_argument("--burst-jobs", type=int, default=1000)
    parser.add_argument("--redis-url")
    parser.add_argument("--database-url")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f}", file=sys.stderr)
    figures: dict[str, dict[str, float]] = {}
    with servers(args) as (redis_url, database_url):
        for count in args.nodes:
            figures[str(count)] = result = run_one(redis_url, database_url, count, args)
            verdict = "PASS" if result["p50_ms"] <= TARGET_P50_MS else "FAIL"
            print(
                f"{count} node(s) x {args.slots} slots: submit→start p50 {result['p50_ms']:.2f} ms, "
                f"p99 {result['p99_ms']:.2f} ms [{verdict} p50 ≤ {TARGET_P50_MS:g} ms] "
                f"(of which submit→claimed {result['redis_p50_ms']:.2f} / {result['redis_p99_ms']:.2f} ms); "
                f"{result['jobs_per_s']:.0f} jobs/s"
            )
    print(f"load average after: {os.getloadavg()[0]:.2f}", file=sys.stderr)
    if args.json:
        print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
