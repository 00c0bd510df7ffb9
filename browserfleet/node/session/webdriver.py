"""WebDriver for live sessions: one ``chromedriver`` per session, attached to the session's browser.

chromedriver (Debian's ``chromium-driver``) runs inside the platform, on the session's node, as
``chromedriver --port=0 --allowed-ips=127.0.0.1``: it listens on a free loopback port (read from its
"started successfully on port N" line) and only the authenticated reverse proxy of the node-local
router (node/session/routes/webdriver.py) talks to it. It attaches to the session's already
running browser through the browser's local debugging port (``goog:chromeOptions.debuggerAddress``),
so a Selenium client and a CDP client drive the same browser, and ``driver.quit()`` only detaches.

Contained sessions (node/sandbox/) run it inside the browser's own sandbox, as the browser user:
it reaches the browser on the browser's own loopback, the node reaches it through a port bridge,
and whatever a client makes it do (write files, start another browser) stays in that sandbox.

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

from browserfleet.node.sandbox import Helper, StartedBrowser, start_helper

log = structlog.get_logger(__name__)
START_TIMEOUT_S = 10.0
_STARTED = re.compile(rb"started successfully on port (\d+)")


class WebDriverUnavailable(Exception):
    """chromedriver cannot serve this session (missing binary, failed start, session ended)."""


class ChromeDriver:
    """The chromedriver server of one live session (started on first use, closed with the session)."""

    def __init__(
        self,
        binary: Path,
        debugger_address: str,
        *,
        start_timeout_s: float = START_TIMEOUT_S,
        browser: StartedBrowser | None = None,
    ) -> None:
        self.binary = binary
        self.debugger_address = debugger_address  # 127.0.0.1:PORT of the browser, as chromedriver sees it
        self.start_timeout_s = start_timeout_s
        self.browser = browser  # started next to it (in its sandbox when contained); None: a plain child
        self.webdriver_sessions: set[str] = set()  # WebDriver session ids created through the proxy
        self._lock = asyncio.Lock()
        self._process: asyncio.subprocess.Process | None = None
        self._helper: Helper | None = None
        self._drain: asyncio.Task[None] | None = None
        self._url: str | None = None
        self._closed = False

    @property
    def pid(self) -> int | None:
        """The running chromedriver's pid (None before the first WebDriver request and after close)."""
        helper = self._helper
        return helper.pid() if helper is not None and self._process is not None else None

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
        argv = [str(self.binary), "--port=0", "--allowed-ips=127.0.0.1"]
        helper = await (self.browser.start_helper(argv) if self.browser else start_helper(argv))
        self._helper, self._process = helper, helper.process
        process = helper.process
        assert process.stdout is not None
        try:
            port = await asyncio.wait_for(_read_port(process.stdout), self.start_timeout_s)
        except (TimeoutError, WebDriverUnavailable) as exc:
            await self._stop()
            raise WebDriverUnavailable("chromedriver did not start") from exc
        if self.browser is not None:
            port = await self.browser.host_port(port)  # contained: bridged out of its sandbox
        self._drain = asyncio.create_task(_drain(process.stdout), name=f"chromedriver-{process.pid}")
        log.info("webdriver.started", pid=process.pid, port=port, browser=self.debugger_address)
        return f"http://127.0.0.1:{port}"

    async def _stop(self) -> None:
        process, self._process, self._url, self._helper = self._process, None, None, None
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
