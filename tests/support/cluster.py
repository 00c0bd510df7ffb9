"""A distributed fleet on loopback for tests: one control plane and N nodes, real ``browserfleet``
processes on a throwaway Redis and PostgreSQL (tests/support/redis.py, postgres.py).

Each process runs in its own OS session (``start_new_session``) with its own data dir and log files,
so a test can SIGKILL one with everything it started (its Chromium included).
"""

from __future__ import annotations

import signal
import subprocess
import uuid
from pathlib import Path
from typing import Any

import httpx

from tests.support._ports import free_port
from tests.support.e2e import TEST_SITE_EGRESS, CliProcess, cli_env

NODE_SECRET = "test-node-secret"
ADMIN_KEY = "test-admin-key"
SECRET_KEY = "test-secret-key-of-every-process"


def llm_env(base_url: str, api_key: str, model: str = "scripted") -> dict[str, str]:
    """The model provider settings (tests/support/llm_standin.py): the control plane checks them
    when a browsing task is created, the nodes call the model."""
    return {
        "BROWSERFLEET_LLM_BASE_URL": base_url,
        "BROWSERFLEET_LLM_API_KEY": api_key,
        "BROWSERFLEET_LLM_MODEL": model,
    }


def cluster_env(redis_url: str, database_url: str, **extra: str) -> dict[str, str]:
    """What every process of the test fleet shares (each test run gets its own Redis prefix)."""
    return cli_env(
        BROWSERFLEET_REDIS_URL=redis_url,
        BROWSERFLEET_DATABASE_URL=database_url,
        BROWSERFLEET_REDIS_PREFIX=f"t{uuid.uuid4().hex[:8]}",
        BROWSERFLEET_NODE_SECRET=NODE_SECRET,
        BROWSERFLEET_ADMIN_KEY=ADMIN_KEY,
        BROWSERFLEET_SECRET_KEY=SECRET_KEY,
        BROWSERFLEET_EGRESS_ALLOW=TEST_SITE_EGRESS,
        BROWSERFLEET_LOG_LEVEL="info",
        **extra,
    )


class FleetProcess(CliProcess):
    """One ``browserfleet`` CLI process of the fleet; ``url`` is its HTTP address."""

    def __init__(self, args: list[str], env: dict[str, str], workdir: Path, name: str, port: int) -> None:
        self.name = name
        self.data_dir = workdir / name
        self.data_dir.mkdir(parents=True, exist_ok=True)
        full = [*args, "--port", str(port), "--data-dir", str(self.data_dir)]
        super().__init__(full, env, port=port, logs=workdir / name, label=name, append=True)

    def wait_ready(self, timeout: float = 60) -> None:
        super().wait_ready(timeout)

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM (graceful), SIGKILL if it does not leave in time."""
        if self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()


def start_control(
    env: dict[str, str], workdir: Path, name: str = "control", port: int | None = None
) -> FleetProcess:
    return FleetProcess(["serve", "--role", "control"], env, workdir, name, port or free_port())


def start_node(
    env: dict[str, str], workdir: Path, node_id: str, *, country: str | None = None, slots: int = 2
) -> FleetProcess:
    args = ["node", "--node-id", node_id, "--slots", str(slots)]
    if country:
        args += ["--country", country]
    return FleetProcess(args, env, workdir, node_id, free_port())


def admin_nodes(control: FleetProcess) -> list[dict[str, Any]]:
    response = httpx.get(
        f"{control.url}/v1/nodes", headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=10
    )
    assert response.status_code == 200, response.text
    nodes: list[dict[str, Any]] = response.json()["nodes"]
    return nodes
