"""WebDriver for live sessions: one ``chromedriver`` per session, attached to the session's browser.

chromedriver (Debian's ``chromium-driver``) runs inside the platform, on the session's node, as
``chromedriver --port=0 --allowed-ips=127.0.0.1``: it listens on a free loopback port (read from its
"started successfully on port N" line) and only the API's authenticated reverse proxy
(api/sessions/webdriver.py) talks to it. It attaches to the session's already running browser through the
browser's local debugging port (``goog:chromeOptions.debuggerAddress``), so a Selenium client and a
CDP client drive the same browser, and ``driver.quit()`` only detaches.

Started lazily, on the first authenticated WebDriver request: it is up in ~10 ms, so sessions that
never use WebDriver pay nothing. Stopped (its process group SIGTERMed, then SIGKILLed) when the
session ends; once closed it never starts again, so a request racing the end of a session cannot
leak a process.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
from pathlib import Path

import structlog

log = structlog.get_logger(__name__)
START_TIMEOUT_S = 10.0
_STARTED = re.compile(rb"started successfully on port (\d+)")


class WebDriverUnavailable(Exception):
    """chromedriver cannot serve this session (missing binary, failed start, session ended)."""


class ChromeDriver:
    """The chromedriver server of one live session (started on first use, closed with the session)."""

    def __init__(
        self, binary: Path, debugger_address: str, *, start_timeout_s: float = START_TIMEOUT_S
    ) -> None:
        self.binary = binary
        self.debugger_address = debugger_address  # 127.0.0.1:PORT of the session's browser
        self.start_timeout_s = start_timeout_s
        self.webdriver_sessions: set[str] = set()  # WebDriver session ids created through the proxy
        self._lock = asyncio.Lock()
        self._process: asyncio.subprocess.Process | None = None
        self._drain: asyncio.Task[None] | None = None
        self._url: str | None = None
        self._closed = False

    @property
    def pid(self) -> int | None:
        """The running chromedriver's pid (None before the first WebDriver request and after close)."""
        process = self._process
        return process.pid if process is not None and process.returncode is None else None

    async def url(self) -> str:
        """``http://127.0.0.1:PORT`` of this session's chromedriver, starting it if needed."""
        async with self._lock:
            if self._closed:
                raise WebDriverUnavailable("The session has ended")
            if self._process is not None and self._process.returncode is None and self._url:
                return self._url
            await self._stop()  # it died: start a fresh one
            self._url = await self._start()
            return self._url

    async def close(self) -> None:
        async with self._lock:
            self._closed = True
            await self._stop()

    async def _start(self) -> str:
        if not os.access(self.binary, os.X_OK):
            raise WebDriverUnavailable(f"chromedriver not found at {self.binary} (install chromium-driver)")
        process = await asyncio.create_subprocess_exec(
            str(self.binary),
            "--port=0",
            "--allowed-ips=127.0.0.1",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
        self._process = process
        assert process.stdout is not None
        try:
            port = await asyncio.wait_for(_read_port(process.stdout), self.start_timeout_s)
        except (TimeoutError, WebDriverUnavailable) as exc:
            await self._stop()
            raise WebDriverUnavailable("chromedriver did not start") from exc
        self._drain = asyncio.create_task(_drain(process.stdout), name=f"chromedriver-{process.pid}")
        log.info("webdriver.started", pid=process.pid, port=port, browser=self.debugger_address)
        return f"http://127.0.0.1:{port}"

    async def _stop(self) -> None:
        process, self._process, self._url = self._process, None, None
        self.webdriver_sessions.clear()
        if process is not None:
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
                try:
                    await asyncio.wait_for(asyncio.shield(process.wait()), 3.0)
                except TimeoutError:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(process.pid, signal.SIGKILL)
                    await process.wait()
            log.info("webdriver.stopped", pid=process.pid)
        if self._drain is not None:
            self._drain.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._drain
            self._drain = None


async def _read_port(stream: asyncio.StreamReader) -> int:
    while line := await stream.readline():
        if match := _STARTED.search(line):
            return int(match.group(1))
    raise WebDriverUnavailable("chromedriver exited during start-up")


async def _drain(stream: asyncio.StreamReader) -> None:
    """Keep reading chromedriver's output so a full pipe never blocks it."""
    while await stream.read(65536):
        pass
