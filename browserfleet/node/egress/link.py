"""Plain-HTTP upstream connection, reusable for the next request to the same ``host:port``."""

from __future__ import annotations

import h11

from browserfleet.node.egress.messages import MAX_HEADER_BYTES
from browserfleet.node.egress.stats import EgressStats
from browserfleet.node.egress.streams import CHUNK_SIZE
from browserfleet.node.egress.upstream import UpstreamStreams

__all__ = ["UpstreamFailure", "UpstreamLink"]


class UpstreamFailure(Exception):
    """The upstream side of a plain-HTTP exchange broke (I/O error or HTTP protocol violation)."""


class UpstreamLink:
    def __init__(self, key: tuple[str, int], streams: UpstreamStreams, stats: EgressStats) -> None:
        self.key = key
        self.reader, self.writer = streams
        self.conn = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEADER_BYTES)
        self.response_started = False
        self._stats = stats

    def usable(self) -> bool:
        """Idle, in a fresh request cycle, and not closed by the server meanwhile."""
        return (
            self.conn.our_state is h11.IDLE
            and not self.reader.at_eof()
            and self.reader.exception() is None
            and not self.writer.is_closing()
        )

    def finish_cycle(self) -> bool:
        """After a complete exchange: prepare for the next request if both sides allow reuse."""
        conn = self.conn
        if conn.our_state is h11.DONE and conn.their_state is h11.DONE and not conn.trailing_data[0]:
            conn.start_next_cycle()
            self.response_started = False
            return True
        return False

    async def send(self, event: h11.Event) -> None:
        try:
            data = self.conn.send(event)
        except h11.LocalProtocolError as exc:
            raise UpstreamFailure(f"cannot forward request: {exc}") from exc
        if not data:
            return
        try:
            self.writer.write(data)
            await self.writer.drain()
        except OSError as exc:
            raise UpstreamFailure(f"write failed: {exc}") from exc
        self._stats.bytes_sent += len(data)

    async def next_event(self) -> h11.Event | type[h11.PAUSED]:
        while True:
            try:
                event = self.conn.next_event()
            except h11.RemoteProtocolError as exc:
                raise UpstreamFailure(f"bad response: {exc}") from exc
            if event is not h11.NEED_DATA:
                return event  # type: ignore[return-value]  # NEED_DATA excluded above
            try:
                data = await self.reader.read(CHUNK_SIZE)
            except OSError as exc:
                raise UpstreamFailure(f"read failed: {exc}") from exc
            self._stats.bytes_received += len(data)
            self.conn.receive_data(data)
