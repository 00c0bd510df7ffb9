"""Raw two-way byte piping for CONNECT tunnels and upgraded (WebSocket) connections."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from browserfleet.node.egress.stats import EgressStats
from browserfleet.node.egress.streams import CHUNK_SIZE

__all__ = ["splice"]


async def _pump(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, count: Callable[[int], None]
) -> None:
    while data := await reader.read(CHUNK_SIZE):
        count(len(data))
        writer.write(data)
        await writer.drain()
    if writer.can_write_eof() and not writer.is_closing():
        writer.write_eof()  # half-close: the other direction may still be flowing


async def splice(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    up_reader: asyncio.StreamReader,
    up_writer: asyncio.StreamWriter,
    stats: EgressStats,
) -> None:
    """Pipe bytes both ways until both directions reached EOF or either side broke.

    ``reader``/``writer`` are the browser side, ``up_reader``/``up_writer`` the destination side;
    bytes are counted into ``stats`` as sent (browser -> upstream) and received (upstream -> browser).
    """

    def count_sent(n: int) -> None:
        stats.bytes_sent += n

    def count_received(n: int) -> None:
        stats.bytes_received += n

    tasks = (
        asyncio.create_task(_pump(reader, up_writer, count_sent)),
        asyncio.create_task(_pump(up_reader, writer, count_received)),
    )
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    finally:
        for task in tasks:
            task.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
    for result in results:
        if isinstance(result, Exception) and not isinstance(result, OSError):
            raise result
