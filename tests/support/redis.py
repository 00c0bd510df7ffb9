"""A throwaway Redis server for tests, run from Debian's ``redis-server`` package.

No persistence (``--save ''``, no AOF), bound to 127.0.0.1 on a free port, working
directory in a temporary directory that is deleted when the server stops.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

from tests.support._ports import free_port, wait_for_port

_PORT_ATTEMPTS = 3


class RedisNotInstalledError(RuntimeError):
    """The ``redis-server`` binary is missing."""


class RedisServer:
    """A ``redis-server`` subprocess for the length of a ``with`` block; ``url`` is its db 0."""

    def __init__(self, host: str = "127.0.0.1", timeout: float = 20) -> None:
        self.host = host
        self.timeout = timeout
        self.port: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._tmp: Path | None = None

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("RedisServer is not running")
        return f"redis://{self.host}:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server") or shutil.which("redis-server", path="/usr/bin:/usr/sbin")
        if binary is None:
            raise RedisNotInstalledError(
                "redis-server not found. Run `make install` to install the Debian packages the tests need."
            )
        self._tmp = Path(tempfile.mkdtemp(prefix="browserfleet-redis-"))
        try:
            for attempt in range(1, _PORT_ATTEMPTS + 1):
                port = free_port(self.host)
                args = [binary, "--port", str(port), "--bind", self.host, "--save", "", "--appendonly", "no"]
                args += [
                    "--dir",
                    str(self._tmp),
                    "--daemonize",
                    "no",
                    "--logfile",
                    str(self._tmp / "redis.log"),
                ]
                self._proc = subprocess.Popen(args, cwd=self._tmp, stdin=subprocess.DEVNULL)
                if wait_for_port(self.host, port, self.timeout) and self._proc.poll() is None:
                    self.port = port
                    return
                self._terminate()
                if attempt == _PORT_ATTEMPTS:
                    log = (self._tmp / "redis.log").read_text(errors="replace")[-4000:]
                    raise RuntimeError(f"redis-server did not start on {self.host}:{port}\n{log}")
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        self._terminate()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None
        self.port = None

    def _terminate(self) -> None:
        if self._proc is None:
            return
        self._proc.terminate()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._proc = None

    def __enter__(self) -> RedisServer:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
