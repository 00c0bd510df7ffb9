"""A minimal Chrome DevTools Protocol client: the node's own line to a session's browser.

Remote clients drive a session's browser through the CDP proxy (node/session/routes/connect.py);
the node keeps one connection of its own (:class:`CDPConnection`) for what it must do whatever the
client does: emulation of every new page (node/session/supervisor.py), saving cookies into a
context, closing the browser cleanly. Flat sessions only (``Target.attachToTarget{flatten:true}``):
a command for a target carries ``sessionId``.

Errors: :class:`CDPError` for an error answer, :class:`CDPClosed` once the WebSocket is gone
(every pending command fails with it).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import structlog

from browserfleet.node.cdp_socket import CDPSocket, CDPSocketClosed

log = structlog.get_logger(__name__)
EventHandler = Callable[[dict[str, Any], str | None], Awaitable[None] | None]
COMMAND_TIMEOUT_S = 15.0


def devtools_port(user_data: Path) -> tuple[int, str] | None:
    """Port and browser path from a profile's ``DevToolsActivePort`` (None until Chromium's
    DevTools server listens and has written both lines)."""
    with contextlib.suppress(FileNotFoundError, ValueError):
        lines = (user_data / "DevToolsActivePort").read_text().splitlines()
        if len(lines) >= 2:
            return int(lines[0]), lines[1].strip()
    return None


class CDPError(Exception):
    """The browser answered a command with an error."""

    def __init__(self, method: str, error: dict[str, Any]) -> None:
        super().__init__(f"{method}: {error.get('message', error)}")
        self.method = method
        self.code = error.get("code")


class CDPClosed(ConnectionError):
    """The connection to the browser is gone."""


class CDPConnection:
    """One WebSocket to a browser endpoint; :meth:`send` awaits the answer, :meth:`on` subscribes."""

    def __init__(self) -> None:
        """Internal: use :meth:`connect`."""
        self._ids = itertools.count(1)
        self._pending: dict[int, tuple[str, asyncio.Future[dict[str, Any]]]] = {}
        self._handlers: dict[str, list[EventHandler]] = {}
        self._socket: CDPSocket | None = None

    @classmethod
    async def connect(cls, ws_url: str, *, sock: socket.socket | None = None) -> CDPConnection:
        """``sock``: an already connected socket to use (one made inside a browser's sandbox)."""
        cdp = cls()
        cdp._socket = await CDPSocket.open(ws_url, cdp._dispatch, cdp._fail_pending, sock=sock)
        return cdp

    @property
    def _line(self) -> CDPSocket:
        assert self._socket is not None, "made by CDPConnection.connect"
        return self._socket

    @property
    def closed(self) -> bool:
        return self._line.closed

    async def wait_closed(self) -> None:
        """Return once the WebSocket to the browser is gone (the browser exited or we closed)."""
        await self._line.wait_closed()

    def on(self, event: str, handler: EventHandler) -> None:
        """Call ``handler(params, session_id)`` for every ``event`` (coroutines run as tasks)."""
        self._handlers.setdefault(event, []).append(handler)

    async def send(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        session_id: str | None = None,
        timeout_s: float = COMMAND_TIMEOUT_S,
    ) -> dict[str, Any]:
        (answer,) = await self.send_all([(method, params or {})], session_id=session_id, timeout_s=timeout_s)
        return answer

    async def send_all(
        self,
        commands: list[tuple[str, dict[str, Any]]],
        *,
        session_id: str | None = None,
        timeout_s: float = COMMAND_TIMEOUT_S,
    ) -> list[dict[str, Any]]:
        """Send every command at once (one write) and await all their answers (in order); the
        first error answer raises once every answer is in."""
        line = self._line
        if line.closed:
            raise CDPClosed("the browser connection is closed")
        loop = asyncio.get_running_loop()
        sent: list[tuple[int, asyncio.Future[dict[str, Any]]]] = []
        messages: list[bytes] = []
        try:
            for method, params in commands:
                message_id = next(self._ids)
                future: asyncio.Future[dict[str, Any]] = loop.create_future()
                self._pending[message_id] = (method, future)
                sent.append((message_id, future))
                message: dict[str, Any] = {"id": message_id, "method": method, "params": params}
                if session_id is not None:
                    message["sessionId"] = session_id
                messages.append(json.dumps(message).encode())
            line.send(messages)
            async with asyncio.timeout(timeout_s):
                await asyncio.wait([future for _, future in sent])
            return [future.result() for _, future in sent]
        except CDPSocketClosed as exc:
            raise CDPClosed(str(exc)) from exc
        finally:
            for message_id, future in sent:
                self._pending.pop(message_id, None)
                if future.done() and not future.cancelled():
                    future.exception()  # answered as we were cancelled: nobody else will look at it

    async def close(self) -> None:
        await self._line.close()

    def _fail_pending(self) -> None:
        for method, future in self._pending.values():
            if not future.done():
                future.set_exception(CDPClosed(f"{method}: the browser connection closed"))

    def _dispatch(self, raw: bytes) -> None:
        message = json.loads(raw)
        if "id" in message:
            method, future = self._pending.get(message["id"], ("", None))
            if future is None or future.done():
                return
            if "error" in message:
                future.set_exception(CDPError(method, message["error"]))
            else:
                future.set_result(message.get("result", {}))
            return
        for handler in self._handlers.get(message.get("method", ""), ()):
            outcome = handler(message.get("params", {}), message.get("sessionId"))
            if asyncio.iscoroutine(outcome):
                task = asyncio.ensure_future(outcome)
                task.add_done_callback(_log_failure)


def _log_failure(task: asyncio.Future[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("cdp.handler_failed", error=str(task.exception()))
