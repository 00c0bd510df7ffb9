"""Real browserfleet servers for tests, all sharing one warm browser pool.

One background thread runs one event loop for the whole test session (per xdist worker); the
browser pool and every server started with :meth:`FleetHarness.server` live on it. Servers are
real uvicorn servers on 127.0.0.1 with their own data folder and settings, so a test can have a
default-deny egress server next to the permissive one without launching more browsers.
"""

from __future__ import annotations

import asyncio
import gc
import threading
import warnings
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import uvicorn

from browserfleet.app import create_app
from browserfleet.fleet import Fleet, build_pool
from browserfleet.node.pool import BrowserPool
from browserfleet.settings import Settings
from browserfleet.store.recent_blobs import RecentBlobs

T = TypeVar("T")
TEST_SITE_ALLOW = ["127.0.0.1/32"]


@dataclass
class RunningServer:
    url: str
    settings: Settings
    fleet: Fleet
    server: uvicorn.Server
    task: asyncio.Task[None]

    @property
    def api(self) -> str:
        """Base URL for the browser7 SDK (includes /v1)."""
        return f"{self.url}/v1"

    def forget_recent_blobs(self) -> None:
        """Drop the memory of just-written blobs (store/recent_blobs.py): a test that removes a
        blob file behind the store's back sees what a server sees once that memory expired."""
        blobs = self.fleet.blobs
        assert isinstance(blobs, RecentBlobs)
        blobs.clear()


class FleetHarness:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="fleet-loop", daemon=True)
        self._thread.start()
        self.pool: BrowserPool = build_pool(Settings(data_dir=root))
        self.run(self.pool.start())
        self._servers: list[RunningServer] = []
        self._count = 0

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        """Run a coroutine on the harness loop from test code and return its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def server(self, **overrides: Any) -> RunningServer:
        self._count += 1
        values: dict[str, Any] = {
            "data_dir": self.root / f"server-{self._count}",
            "host": "127.0.0.1",
            "port": 0,
            "egress_allow": TEST_SITE_ALLOW,
            "node_id": f"test-node-{self._count}",
        }
        values.update(overrides)
        settings = Settings(**values)
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        running = self.run(self._start(settings))
        self._servers.append(running)
        return running

    async def _start(self, settings: Settings) -> RunningServer:
        app = create_app(settings, pool=self.pool)
        config = uvicorn.Config(
            app, host="127.0.0.1", port=0, lifespan="on", log_level="warning", access_log=False
        )
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve())
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.02)
        port = server.servers[0].sockets[0].getsockname()[1]
        return RunningServer(f"http://127.0.0.1:{port}", settings, app.state.fleet, server, task)

    def stop_server(self, running: RunningServer) -> None:
        async def stop() -> None:
            running.server.should_exit = True
            await running.task

        self.run(stop())
        if running in self._servers:
            self._servers.remove(running)

    def new_key(
        self,
        running: RunningServer,
        *,
        concurrency: int | None = 10,
        timeout_s: int | None = None,
        free_cents: int | None = None,
    ) -> str:
        """A fresh project (isolated balance and limits) on ``running``, and a key for it
        (``concurrency=None``: the server's default for a new project)."""
        return self.run(self._new_key(running.fleet, concurrency, timeout_s, free_cents))

    async def _new_key(
        self, fleet: Fleet, concurrency: int | None, timeout_s: int | None, free_cents: int | None
    ) -> str:
        self._count += 1
        name = f"project-{self._count}"
        project = await fleet.accounts.create_project(name, concurrency=concurrency, timeout_s=timeout_s)
        if free_cents is not None:
            current = (await fleet.store.balance(project.id))["free"]
            await fleet.store.add_ledger_entry(project.id, "free", free_cents - current, "test set-up")
        return (await fleet.accounts.create_key(name)).key

    def close(self) -> None:
        for running in list(self._servers):
            self.stop_server(running)
        self.run(self.pool.close())
        self.run(_drain())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


async def _drain() -> None:
    """Cancel what is still running on the loop and let transports finish closing, so nothing is
    left to be collected (and warned about) after the loop is gone."""
    leftovers = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in leftovers:
        task.cancel()
    await asyncio.gather(*leftovers, return_exceptions=True)
    with warnings.catch_warnings():
        # a connection accepted in the last instant never ran its handler: nothing to report
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()
    await asyncio.sleep(0.05)
