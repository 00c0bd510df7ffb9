"""The CDP pipe between a client and a live session's browser, shared by the CDP proxy behind
``connectUrl`` (node/session/routes/connect.py) and the DevTools frontend's connection
(node/session/routes/devtools.py). Every client message passes the session's protocol firewall
(core/firewall/cdp.py) before it reaches the browser; the session log (``logSession``,
node/session/log.py) sees what was forwarded and the browser's answers.
"""

from __future__ import annotations

import contextlib

import structlog
import websockets
from starlette.websockets import WebSocket

from browserfleet.core.firewall import CdpPolicy, Refuse
from browserfleet.core.ws_pipe import both_ways
from browserfleet.node.session.log import ConnectionLog

log = structlog.get_logger(__name__)


async def pipe_cdp(
    ws: WebSocket,
    upstream: websockets.ClientConnection,
    firewall: CdpPolicy,
    traffic: ConnectionLog | None,
) -> None:
    """A CDP client and the browser, both ways until either side leaves. Every client message
    passes the session's ``firewall`` first (core/firewall/cdp.py): what it forwards goes to the
    browser, what it refuses is answered to the client with a CDP error and never reaches the
    browser. ``traffic`` (logSession) sees what was forwarded and the browser's answers."""

    async def client_to_browser() -> None:
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is None:  # CDP is text; a binary frame is not a command
                text = (message.get("bytes") or b"").decode("utf-8", "replace")
            verdict = firewall.inspect(text)
            if isinstance(verdict, Refuse):
                log.warning("session.cdp_refused", method=verdict.method[:100], reason=verdict.reason)
                await ws.send_text(verdict.reply)
                continue
            _record(traffic, verdict.text, to_browser=True)
            await upstream.send(verdict.text)

    async def browser_to_client() -> None:
        async for message in upstream:
            if isinstance(message, str):
                _record(traffic, message, to_browser=False)
                await ws.send_text(message)
            else:
                await ws.send_bytes(message)
        with contextlib.suppress(Exception):  # the browser went away: tell the client
            await ws.close(code=1001)

    await both_ways(client_to_browser(), browser_to_client())


def _record(traffic: ConnectionLog | None, text: str, *, to_browser: bool) -> None:
    """Show a message to the session log, if any; a session log never breaks the pipe."""
    if traffic is None:
        return
    try:
        if to_browser:
            traffic.client_message(text)
        else:
            traffic.browser_message(text)
    except Exception:
        log.exception("session.log_failed")
