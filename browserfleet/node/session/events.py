"""The bridges between the dispatcher's session events and this node's live sessions.

* ``ready``: once a session's browser accepts clients (its registration in :class:`LiveSessions`),
  the event is published for whoever waits on it (``POST /v1/sessions``, core/sessions/service.py);
* ``release``: a release request (``{status: "REQUEST_RELEASE"}``, on whichever process took it)
  travels as a dispatcher event and is handed to this node's registry, which ends the session (or
  remembers the request until the session registers).

The fleet wires one :class:`SessionEvents` per process that runs session executors, as the node
(node/worker.py) watches its ``cancel`` events.
"""

from __future__ import annotations

import asyncio
import contextlib

from browserfleet.core.sessions import READY_EVENT, RELEASE_EVENT
from browserfleet.dispatch.base import Dispatcher, JobEvent
from browserfleet.node.session.live import LiveSession, LiveSessions


class SessionEvents:
    def __init__(self, dispatcher: Dispatcher, registry: LiveSessions) -> None:
        self.dispatcher = dispatcher
        self.registry = registry
        self._releases: asyncio.Task[None] | None = None
        self._published: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        self.registry.on_ready = self._ready
        self._releases = asyncio.create_task(self._relay_releases(), name="session-events")

    async def stop(self) -> None:
        if self._releases:
            self._releases.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._releases

    def _ready(self, live: LiveSession) -> None:
        """A session's browser accepts clients: tell whoever waits (``POST /v1/sessions``)."""
        event = JobEvent(live.session_id, live.project_id, kind=READY_EVENT)
        task = asyncio.get_running_loop().create_task(self.dispatcher.publish(event))
        self._published.add(task)
        task.add_done_callback(self._published.discard)

    async def _relay_releases(self) -> None:
        """Release requests travel as dispatcher events; hand them to this node's live sessions."""
        subscription = self.dispatcher.subscribe(kinds={RELEASE_EVENT})
        try:
            async for event in subscription:
                self.registry.request_release(event.job_id)
        finally:
            await subscription.close()
