"""asyncio stream plumbing shared by both sides of the proxy: read size, TCP_NODELAY, closing."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import Final

__all__ = ["CHUNK_SIZE", "close_stream", "set_nodelay"]

CHUNK_SIZE: Final = 64 * 1024
"""Read size for every socket read and the StreamReader buffer limit."""
_CLOSE_GRACE: Final = 2.0


def set_nodelay(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


async def close_stream(writer: asyncio.StreamWriter, *, abort: bool = False) -> None:
    """Close ``writer`` (flushing unless ``abort``) and wait briefly until the socket is gone."""
    transport = writer.transport
    try:
        if abort:
            transport.abort()
        else:
            writer.close()
        async with asyncio.timeout(_CLOSE_GRACE):
            await writer.wait_closed()
    except OSError:  # includes TimeoutError: the peer does not drain, or the connection broke
        transport.abort()
    except asyncio.CancelledError:
        transport.abort()
        raise
