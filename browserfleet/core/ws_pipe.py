"""The WebSocket plumbing every proxy shares: the CDP pipe of a live session (node/session/pipe.py,
used by node/session/routes/connect.py and node/session/routes/devtools.py) and the control plane's
relay to nodes (api/relay.py). Each proxy keeps its own directions (what it rewrites, logs, and how it
closes the other side); this module opens the upstream and runs the two directions.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine, Sequence
from typing import Any

import websockets
from starlette.websockets import WebSocketDisconnect
from websockets.typing import Subprotocol

UPSTREAM_ERRORS: tuple[type[Exception], ...] = (OSError, TimeoutError, websockets.WebSocketException)
"""What opening a WebSocket upstream (:func:`open_upstream`, a CDP connection) raises when the
other end cannot be reached or refuses."""


async def open_upstream(
    url: str,
    *,
    headers: list[tuple[str, str]] | None = None,
    subprotocols: Sequence[Subprotocol] | None = None,
) -> websockets.ClientConnection:
    """A WebSocket to ``url`` as a proxy needs it: messages of any size, uncompressed, no pings
    of its own (the two ends keep theirs), 10 s to open. Raises one of :data:`UPSTREAM_ERRORS`
    (``websockets.InvalidStatus`` when the handshake was refused)."""
    return await websockets.connect(
        url,
        additional_headers=headers,
        subprotocols=subprotocols,
        max_size=None,
        ping_interval=None,
        compression=None,
        open_timeout=10,
    )


async def both_ways(*directions: Coroutine[Any, Any, None]) -> None:
    """Run the directions of a pipe until one of them ends, then cancel the others; a side that
    went away (a disconnect, a closed connection) ends its direction without an error."""
    tasks = [asyncio.create_task(direction) for direction in directions]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(
                asyncio.CancelledError, WebSocketDisconnect, websockets.WebSocketException, RuntimeError
            ):
                await task
