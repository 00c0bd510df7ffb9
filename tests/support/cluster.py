"""A distributed fleet on loopback for tests: one control plane and N nodes, real ``browserfleet``
processes on a throwaway Redis and PostgreSQL (tests/support/redis.py, postgres.py).

Each process runs in its own OS session (``start_new_session``) with its own data dir and log files,
so a test can SIGKILL one with everything it started (its Chromium included).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from tests.support._ports import free_port
from tests.support.e2e import CLI, REPO_ROOT, TEST_SITE_EGRESS, browser_pids, cli_env

NODE_SECRET = "test-node-secret"
ADMIN_KEY = "test-admin-key"
SECRET_KEY = "test-secret-key-of-every-process"


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


class FleetProcess:
    """One ``browserfleet`` CLI process; ``url`` is its HTTP address."""

    def __init__(self, args: list[str], env: dict[str, str], workdir: Path, name: str, port: int) -> None:
        self.name = name
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.data_dir = workdir / name
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.stdout_path = workdir / f"{name}.stdout"
        self.stderr_path = workdir / f"{name}.stderr"
        full = [CLI, *args, "--port", str(port), "--data-dir", str(self.data_dir)]
        with self.stdout_path.open("a") as out, self.stderr_path.open("a") as errs:
            self.proc = subprocess.Popen(
                full,
                env=env,
                cwd=REPO_ROOT,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=errs,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stdout(self) -> str:
        return self.stdout_path.read_text()

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"{self.name} exited with {self.proc.returncode}:\n{self.stderr()[-3000:]}"
                )
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            time.sleep(0.1)
        raise AssertionError(f"{self.name} not ready after {timeout}s:\n{self.stderr()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL the process group, then any Chromium it launched that outlived it."""
        browsers = browser_pids(self.pid)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)
        self.proc.wait(10)
        for pid in browsers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

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
