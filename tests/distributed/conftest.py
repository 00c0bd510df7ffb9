"""A distributed fleet for the tests of this folder: one control plane (``serve --role control``)
and four nodes (``browserfleet node``: DE, FR, GB and a spare without a country that one test
kills) as real processes on loopback, on a throwaway Redis and a fresh PostgreSQL database. Every
process gets the model provider settings of one stand-in (``cluster_llm``) for browsing tasks.

Started once per module run (in parallel: they take a while to import and warm their browsers);
``node_ttl_s`` is 3 s so a killed node is noticed quickly. Every test marks itself with the
``distributed`` xdist group, meant to keep them on one worker; with pytest 9.2 and pytest-xdist
3.8 the group is not honoured (xdist sets ``item._nodeid``, which pytest 9 no longer reads), so a
worker that gets some of these tests starts its own cluster: separate processes, databases and
Redis, only slower.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import pytest

from browserfleet.core.accounts import Accounts
from browserfleet.store.repo import Store
from tests.support.cluster import FleetProcess, cluster_env, llm_env, start_control, start_node
from tests.support.llm_standin import LLM_KEY, LLMStandIn
from tests.support.postgres import PostgresServer
from tests.support.redis import RedisServer
from tests.support.stores import fresh_postgres_url

NODE_COUNTRIES = {"node-de": "DE", "node-fr": "FR", "node-gb": "GB"}
SPARE = "node-spare"
TTL_S = 3


@dataclass
class Cluster:
    env: dict[str, str]
    workdir: Path
    database_url: str
    control: FleetProcess
    nodes: dict[str, FleetProcess] = field(default_factory=dict)

    def new_key(self, *, concurrency: int = 100) -> str:
        """A fresh project (its own balance and limits) and a key for it, made in the database."""
        return asyncio.run(_new_key(self.database_url, concurrency))

    def jobs(self, job_ids: list[str]) -> dict[str, tuple[str, str | None, int, int]]:
        """id → (state, node id, attempts, charged cents), read from the store."""
        return asyncio.run(_jobs(self.database_url, job_ids))


async def _new_key(url: str, concurrency: int) -> str:
    store = await Store.open(url)
    try:
        accounts = Accounts(store, free_cents=100_000, concurrency=concurrency, timeout_s=60)
        name = f"project-{id(object())}-{asyncio.get_running_loop().time()}"
        await accounts.create_project(name, concurrency=concurrency)
        return (await accounts.create_key(name)).key
    finally:
        await store.close()


async def _jobs(url: str, job_ids: list[str]) -> dict[str, tuple[str, str | None, int, int]]:
    """Straight from PostgreSQL (asyncpg): cheap enough to poll."""
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        rows = await connection.fetch(
            "SELECT id, state, node_id, attempts, charged_cents FROM jobs WHERE id = ANY($1::text[])", job_ids
        )
    finally:
        await connection.close()
    found = {r["id"]: (r["state"], r["node_id"], r["attempts"], r["charged_cents"]) for r in rows}
    assert set(found) == set(job_ids)
    return found


@pytest.fixture(scope="package")
def cluster_llm() -> Iterator[LLMStandIn]:
    """The model provider stand-in every process of the cluster is configured with."""
    with LLMStandIn() as server:
        yield server


@pytest.fixture(scope="package")
def cluster(
    tmp_path_factory: pytest.TempPathFactory,
    postgres_server: PostgresServer,
    site_url: str,
    cluster_llm: LLMStandIn,
) -> Iterator[Cluster]:
    workdir = tmp_path_factory.mktemp("cluster")
    database_url = fresh_postgres_url(postgres_server)
    with RedisServer() as redis:
        env = cluster_env(
            redis.url, database_url, BROWSERFLEET_NODE_TTL_S=str(TTL_S), **llm_env(cluster_llm.url, LLM_KEY)
        )
        running = Cluster(env, workdir, database_url, start_control(env, workdir))
        for node_id, country in [*NODE_COUNTRIES.items(), (SPARE, None)]:
            running.nodes[node_id] = start_node(env, workdir, node_id, country=country, slots=2)
        try:
            for process in [running.control, *running.nodes.values()]:
                process.wait_ready(120)
            yield running
        finally:
            for process in [running.control, *running.nodes.values()]:
                process.stop(15)
