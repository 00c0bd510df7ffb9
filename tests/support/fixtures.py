"""Session-wide pytest fixtures for the throwaway servers in tests.support.

Session scope is per process: under pytest-xdist each worker starts its own server, lazily,
the first time one of its tests asks for it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.captcha_solver import SOLVER_KEY, SolverStandIn
from tests.support.postgres import PostgresNotInstalledError, PostgresServer
from tests.support.redis import RedisNotInstalledError, RedisServer


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A running throwaway PostgreSQL server (one per test process)."""
    server = PostgresServer(database="browserfleet_test")
    try:
        server.start()
    except PostgresNotInstalledError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_url(postgres_server: PostgresServer) -> str:
    """SQLAlchemy async URL (``postgresql+asyncpg://...``) of an empty database on that server."""
    return postgres_server.url


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A running throwaway Redis server (one per test process); tests keep apart by key prefix."""
    server = RedisServer()
    try:
        server.start()
    except RedisNotInstalledError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def solver_stand_in_server() -> Iterator[SolverStandIn]:
    """The local createTask/getTaskResult captcha solver (one per test process)."""
    with SolverStandIn(client_key=SOLVER_KEY) as server:
        yield server


@pytest.fixture
def stand_in(solver_stand_in_server: SolverStandIn) -> SolverStandIn:
    """That solver, with its tasks, requests and behaviour reset for this test."""
    solver_stand_in_server.reset()
    return solver_stand_in_server
