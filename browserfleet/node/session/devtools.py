"""The Chromium DevTools frontend of a session's browser, as its own debug port serves it.

Chromium bundles the frontend and serves it at ``/devtools/inspector.html`` (and its assets under
``/devtools/``) from the debug port, which binds 127.0.0.1 only; ``inspector.html?ws=HOST/PATH``
then opens a CDP WebSocket to ``ws://HOST/PATH``. browserfleet serves both through its
authenticated proxy (node/session/routes/devtools.py): files from :func:`frontend_file`, the
WebSocket to :func:`target_ws_url`. No ``Origin`` is forwarded on the WebSocket: the browser
refuses a foreign one (notes/chromium.md §3).

The debug port speaks a minimal HTTP/1.1 (every answer has ``Content-Length``; HTTP/1.0 gets no
answer at all), so one small request per file over a fresh loopback connection is all it takes —
the frontend loads a few hundred files, and a full HTTP client per request would cost more than
the file.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

FILE_PATH = re.compile(r"(?:[A-Za-z0-9_\-]+(?:\.[A-Za-z0-9_\-]+)*/)*[A-Za-z0-9_\-]+(?:\.[A-Za-z0-9_\-]+)*")
TARGET_ID = re.compile(r"[A-Za-z0-9\-]{1,128}")
TARGET_KINDS = frozenset({"page", "browser"})
MAX_FILE_BYTES = 32 * 1024 * 1024
TIMEOUT_S = 10.0


class FrontendUnavailable(ConnectionError):
    """The browser's debug port did not answer (the session is ending)."""


@dataclass(frozen=True)
class FrontendFile:
    status: int
    content_type: str
    body: bytes


def valid_file_path(path: str) -> bool:
    """A plain relative path under ``/devtools/`` (no ``..``, no empty or hidden segments)."""
    return FILE_PATH.fullmatch(path) is not None


def valid_target(kind: str, target_id: str) -> bool:
    return kind in TARGET_KINDS and TARGET_ID.fullmatch(target_id) is not None


def target_ws_url(http_url: str, kind: str, target_id: str) -> str:
    """``ws://127.0.0.1:PORT/devtools/{page|browser}/ID`` of the session's browser."""
    return f"ws://{urlsplit(http_url).netloc}/devtools/{kind}/{target_id}"


async def frontend_file(http_url: str, path: str) -> FrontendFile:
    """``GET /devtools/{path}`` from the browser's debug port (``path`` checked by the caller)."""
    address = urlsplit(http_url)
    host, port = address.hostname or "127.0.0.1", address.port or 80
    try:
        async with asyncio.timeout(TIMEOUT_S):
            reader, writer = await asyncio.open_connection(host, port)
            try:
                request = f"GET /devtools/{path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n"
                writer.write(request.encode("ascii"))
                await writer.drain()
                return await _read_answer(reader)
            finally:
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()
    except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError) as exc:
        raise FrontendUnavailable(f"the browser's debug port did not answer: {exc}") from exc


async def _read_answer(reader: asyncio.StreamReader) -> FrontendFile:
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
    status_line, *header_lines = head.split("\r\n")
    status = int(status_line.split(" ", 2)[1])
    headers: dict[str, str] = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        if name:
            headers[name.strip().lower()] = value.strip()
    length = headers.get("content-length")
    if length is not None and length.isdigit():
        if int(length) > MAX_FILE_BYTES:
            raise ValueError("file too large")
        body = await reader.readexactly(int(length))
    else:
        body = await reader.read(MAX_FILE_BYTES)
    return FrontendFile(status, headers.get("content-type", "application/octet-stream"), body)
