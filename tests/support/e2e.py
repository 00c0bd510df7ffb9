"""Helpers for end-to-end tests: Renders API polling over httpx and the real ``browserfleet`` CLI.

``RenderApi`` talks to a server's Renders API with plain httpx (long-poll ``?wait=``), so tests
do not pay the SDK's 2 s initial sleep. ``run_cli`` runs one ``browserfleet`` command as a
subprocess; ``CliProcess`` runs one as a server in its own session so it can be killed with
everything it started (``CliServer``: ``browserfleet serve``; tests/support/cluster.py: the
processes of a distributed fleet).
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from tests.support._ports import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
CLI = str(Path(sys.executable).parent / "browserfleet")
TEST_SITE_EGRESS = '["127.0.0.1/32"]'
BROWSER_MARKER = "--browserfleet-browser="
PYCACHE_PREFIX = str(Path(tempfile.gettempdir()) / f"browserfleet-cli-pycache-{os.getuid()}")


def decode_html(b64_gzip: str) -> str:
    """The ``html`` field of a completed render: base64 of gzip of UTF-8 HTML."""
    return gzip.decompress(base64.b64decode(b64_gzip)).decode("utf-8")


class RenderApi:
    """A tiny Renders API client for one key (``base`` is the server URL without ``/v1``)."""

    def __init__(self, base: str, key: str) -> None:
        self.base = base.rstrip("/")
        self.client = httpx.Client(
            base_url=f"{self.base}/v1", headers={"Authorization": f"Bearer {key}"}, timeout=90
        )

    def __enter__(self) -> RenderApi:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.client.close()

    def create(self, body: dict[str, Any]) -> str:
        response = self.client.post("/renders", json=body)
        assert response.status_code in (200, 201), response.text
        render_id: str = response.json()["renderId"]
        return render_id

    def get(self, render_id: str, wait: float = 0) -> httpx.Response:
        params = {"wait": wait} if wait else None
        return self.client.get(f"/renders/{render_id}", params=params)

    def wait(self, render_id: str, timeout: float = 60) -> httpx.Response:
        """Long-poll until the render is terminal; returns the final response (200 or 422)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            response = self.get(render_id, wait=max(1, min(30, round(left))))
            if response.status_code != 200 or response.json()["status"] != "processing":
                return response
            if left <= 0:
                raise AssertionError(f"render {render_id} still processing after {timeout}s")

    def balance_cents(self) -> int:
        response = self.client.get("/account/balance")
        assert response.status_code == 200, response.text
        total: int = response.json()["totalBalanceCents"]
        return total

    def balance(self) -> dict[str, Any]:
        response = self.client.get("/account/balance")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


def wait_until(predicate: Any, timeout: float, interval: float = 0.05, what: str = "condition") -> Any:
    """Call ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


# --- the CLI --------------------------------------------------------------------------------------


def cli_env(**extra: str) -> dict[str, str]:
    """The current environment without any BROWSERFLEET_* variable, plus ``extra``.

    Each CLI subprocess imports the whole engine; without cached bytecode that costs ~2 s of CPU
    more per run. Where the environment forbids writing bytecode next to the sources, the
    subprocesses cache it under the temp dir instead (never in the repository or the venv).
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("BROWSERFLEET_")}
    if env.pop("PYTHONDONTWRITEBYTECODE", None) and "PYTHONPYCACHEPREFIX" not in env:
        env["PYTHONPYCACHEPREFIX"] = PYCACHE_PREFIX
    env.update(extra)
    return env


def run_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run ``browserfleet ARGS`` and return the finished process (stdout/stderr as text)."""
    return subprocess.run(
        [CLI, *args],
        env=env if env is not None else cli_env(),
        cwd=REPO_ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def browser_pids(server_pid: int) -> list[int]:
    """Main Chromium processes launched by the browserfleet process ``server_pid`` (by marker)."""
    prefix = f"{BROWSER_MARKER}{server_pid}-"
    found = []
    with os.scandir("/proc") as entries:
        for entry in entries:
            if not entry.name.isdigit():
                continue
            try:
                argv = Path(f"/proc/{entry.name}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            words = [w.decode(errors="replace") for w in argv]
            if any(w.startswith(prefix) for w in words) and not any(w.startswith("--type=") for w in words):
                found.append(int(entry.name))
    return found


class CliProcess:
    """One ``browserfleet ARGS`` subprocess in its own OS session (so it can be killed with
    everything it started), stdout and stderr in files; ``label`` names it in failures."""

    browser_grace_s = 0.0  # how long :meth:`kill` lets the browsers it left end by themselves

    def __init__(
        self, args: list[str], env: dict[str, str], *, port: int, logs: Path, label: str, append: bool = False
    ) -> None:
        """``logs``: the files' path without its suffix (``.stdout``, ``.stderr``)."""
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.label = label
        self.stdout_path = logs.with_name(f"{logs.name}.stdout")
        self.stderr_path = logs.with_name(f"{logs.name}.stderr")
        mode = "a" if append else "w"
        with self.stdout_path.open(mode) as out, self.stderr_path.open(mode) as errs:
            self.proc = subprocess.Popen(
                [CLI, *args],
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

    def wait_ready(self, timeout: float = 45) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"{self.label} exited with {self.proc.returncode}:\n{self.stderr()[-3000:]}"
                )
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            time.sleep(0.1)
        raise AssertionError(f"{self.label} not ready after {timeout}s:\n{self.stderr()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL the whole process group, then any Chromium it launched that outlived it."""
        browsers = browser_pids(self.pid)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)
        self.proc.wait(10)
        deadline = time.monotonic() + self.browser_grace_s
        while time.monotonic() < deadline and any(_alive(p) for p in browsers):
            time.sleep(0.05)
        for pid in browsers:  # the browser outlived its server: ours to end
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


class CliServer(CliProcess):
    """``browserfleet serve`` on a free port of 127.0.0.1, stdout and stderr in files in
    ``log_dir`` (stdout carries only a first start's API key)."""

    browser_grace_s = 5.0

    def __init__(self, data_dir: Path, log_dir: Path, env: dict[str, str], name: str = "serve") -> None:
        self.data_dir = data_dir
        port = free_port()
        args = ["serve", "--port", str(port), "--data-dir", str(data_dir)]
        super().__init__(args, env, port=port, logs=log_dir / name, label="server")

    def pressure(self) -> dict[str, Any]:
        body: dict[str, Any] = httpx.get(f"{self.url}/pressure", timeout=10).json()
        return body

    def terminate(self, timeout: float = 30) -> int:
        """SIGTERM (graceful stop); returns the exit code."""
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.kill()


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
