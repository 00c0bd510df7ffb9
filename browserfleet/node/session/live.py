"""A live session as its node's endpoints see it, and the node-local registry of them.

The session executor (node/session/executor.py) registers a :class:`LiveSession` once its browser
accepts clients and removes it when the session ends. The node-local router (node/session/routes/)
finds a session's browser here and authenticates its clients with the signing key; its pipes
report clients connecting and leaving, which the executor watches (``keepAlive``'s grace period).
The dispatcher's ready and release events reach the registry through node/session/events.py.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from browserfleet.core.firewall import CdpPolicy
from browserfleet.core.keys import same_secret
from browserfleet.node.session.files import SessionFiles
from browserfleet.node.session.log import SessionLog
from browserfleet.node.session.recording import SessionRecording
from browserfleet.node.session.webdriver import ChromeDriver


@dataclass
class LiveSession:
    """A running session's browser, as the CDP proxy sees it."""

    session_id: str
    project_id: str
    signing_key: str
    keep_alive: bool
    browser_ws_url: str  # ws://127.0.0.1:PORT/devtools/browser/ID
    http_url: str  # http://127.0.0.1:PORT (the browser's own /json endpoints)
    pid: int
    user_data_dir: Path
    clients: int = 0
    connections: int = 0  # clients ever connected
    last_left: float | None = None
    released: bool = False
    shed: bool = False  # ended by the node to free memory (node/capacity/monitor.py)
    started: float = field(default_factory=time.monotonic)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    # started on the first WebDriver call (node/session/routes/webdriver.py)
    webdriver: ChromeDriver | None = None
    log: SessionLog | None = None  # logSession: the clients' CDP traffic (node/session/log.py)
    recording: SessionRecording | None = None  # recordSession: rrweb events (node/session/recording.py)
    files: SessionFiles | None = None  # downloads and uploads (node/session/files.py)
    # what its clients may send the browser (core/firewall/cdp.py), checked by every pipe to it
    firewall: CdpPolicy = field(default_factory=CdpPolicy)
    # called with the client count when it changes (recordSession's screencast films while > 0)
    on_clients: list[Callable[[int], None]] = field(default_factory=list)

    def check_key(self, key: str | None) -> bool:
        return key is not None and same_secret(key, self.signing_key)


class LiveSessions:
    """Node-local registry of live sessions (session id → browser endpoint, key, client count).

    ``on_ready`` is called once a session's browser accepts clients (the fleet publishes the
    ``ready`` event from it). Release requests for a session not (yet) registered are remembered
    until it registers, so a release racing the browser launch is not lost.
    """

    def __init__(self) -> None:
        self._live: dict[str, LiveSession] = {}
        self._release_requested: set[str] = set()
        self.on_ready: Callable[[LiveSession], None] | None = None

    def __len__(self) -> int:
        return len(self._live)

    def get(self, session_id: str) -> LiveSession | None:
        return self._live.get(session_id)

    def add(self, live: LiveSession) -> None:
        self._live[live.session_id] = live
        if live.session_id in self._release_requested:
            self._release_requested.discard(live.session_id)
            live.released = True
        if self.on_ready:
            self.on_ready(live)

    def remove(self, session_id: str) -> None:
        self._live.pop(session_id, None)
        self._release_requested.discard(session_id)

    def pids(self) -> dict[str, int]:
        """Session id → its browser's pid (what node/capacity/ measures)."""
        return {sid: live.pid for sid, live in self._live.items()}

    def shed_newest(self) -> str | None:
        """End the newest idle session (no client connected), else the newest one, to free memory;
        its id, or None when there is none left to end."""
        candidates = [live for live in self._live.values() if not live.released and not live.shed]
        if not candidates:
            return None
        idle = [live for live in candidates if live.clients == 0]
        chosen = max(idle or candidates, key=lambda live: live.started)
        chosen.shed = True
        chosen.changed.set()
        return chosen.session_id

    def request_release(self, session_id: str) -> None:
        live = self._live.get(session_id)
        if live is None:
            self._release_requested.add(session_id)
            return
        live.released = True
        live.changed.set()

    def client_connected(self, session_id: str) -> None:
        live = self._live.get(session_id)
        if live is not None:
            live.clients += 1
            live.connections += 1
            live.changed.set()
            for hook in live.on_clients:
                hook(live.clients)

    def client_disconnected(self, session_id: str) -> None:
        live = self._live.get(session_id)
        if live is not None:
            live.clients = max(0, live.clients - 1)
            if live.clients == 0:
                live.last_left = time.monotonic()
            live.changed.set()
            for hook in live.on_clients:
                hook(live.clients)
