"""Run the test site with uvicorn in a background thread (or standalone).

with SiteServer() as site:
    httpx.get(site.url + "/api/text")

python -m tests.site.server [--port P]     # prints "Test site listening on http://127.0.0.1:P"
"""

from __future__ import annotations

import argparse
import signal
import socket
import threading
import time
from types import FrameType, TracebackType

import uvicorn
from starlette.applications import Starlette
from uvicorn.config import LOGGING_CONFIG

from tests.site.app import begin_shutdown, create_site

HOST = "127.0.0.1"
STARTUP_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0


class _UvicornServer(uvicorn.Server):
    """uvicorn.Server that releases long-polling test endpoints (/hang, /slow) on shutdown."""

    def __init__(self, config: uvicorn.Config, app: Starlette) -> None:
        super().__init__(config)
        self._site_app = app

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        begin_shutdown(self._site_app)
        await super().shutdown(sockets)


class SiteServer:
    """The test site on 127.0.0.1 in a daemon thread; ``port=0`` lets the OS pick a free port."""

    def __init__(self, port: int = 0, *, embedded_logging: bool = True) -> None:
        self._requested_port = port
        # embedded_logging=True leaves the host process' logging config alone (tests);
        # False installs uvicorn's default console logging (standalone run).
        self._embedded_logging = embedded_logging
        self._server: _UvicornServer | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None
        self.app: Starlette | None = None

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("SiteServer is not running")
        return self._port

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("SiteServer already started")
        app = create_site()
        config = uvicorn.Config(
            app,
            host=HOST,
            port=self._requested_port,
            log_level="warning",
            lifespan="on",
            access_log=False,
            timeout_keep_alive=30,
            timeout_graceful_shutdown=3,
            log_config=None if self._embedded_logging else LOGGING_CONFIG,
        )
        server = _UvicornServer(config, app)
        thread = threading.Thread(target=server.run, name="test-site-server", daemon=True)
        thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("test site server failed to start")
            if time.monotonic() > deadline:
                server.should_exit = True
                thread.join(STOP_TIMEOUT)
                raise RuntimeError("test site server did not start in time")
            time.sleep(0.01)
        self._port = int(server.servers[0].sockets[0].getsockname()[1])
        self._server, self._thread, self.app = server, thread, app

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.should_exit = True
        thread.join(STOP_TIMEOUT)
        if thread.is_alive():  # pragma: no cover - only if graceful shutdown is stuck
            server.force_exit = True
            thread.join(STOP_TIMEOUT)
        self._server = self._thread = None
        self._port = None

    def __enter__(self) -> SiteServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve the browserfleet test site on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=0, help="port to bind (default: a free port)")
    args = parser.parse_args(argv)

    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)

    site = SiteServer(args.port, embedded_logging=False)
    site.start()
    print(f"Test site listening on {site.url}", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        site.stop()


if __name__ == "__main__":
    main()
