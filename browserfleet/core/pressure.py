"""How loaded the fleet is now (``GET /pressure``): running and queued jobs against the slots.

In distributed mode the figures are the whole fleet's (every live node of the registry); embedded,
this process's nodes. ``accepting`` turns false once the queue is ``MAX_QUEUED_PER_SLOT`` times
the slots deep.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Protocol

from browserfleet.dispatch.base import Dispatcher

__all__ = ["MAX_QUEUED_PER_SLOT", "Pressure", "SlotCounts", "measure"]

MAX_QUEUED_PER_SLOT: Final = 50


class SlotCounts(Protocol):
    """A node's slots and how many are in use (a running node, or the registry's record of one)."""

    @property
    def slots(self) -> int: ...

    @property
    def in_use(self) -> int: ...


@dataclass(frozen=True)
class Pressure:
    running: int
    queued: int
    slots: int
    nodes: int

    @property
    def max_queued(self) -> int:
        return self.slots * MAX_QUEUED_PER_SLOT

    @property
    def accepting(self) -> bool:
        return self.slots > 0 and self.queued < self.max_queued

    def to_json(self) -> dict[str, object]:
        return {
            "running": self.running,
            "queued": self.queued,
            "limits": {"slots": self.slots, "nodes": self.nodes, "maxQueued": self.max_queued},
            "accepting": self.accepting,
        }


async def measure(dispatcher: Dispatcher, local: Sequence[SlotCounts], *, distributed: bool) -> Pressure:
    """The fleet's pressure: the registry's nodes when ``distributed``, else ``local``."""
    nodes: Sequence[SlotCounts] = await dispatcher.registry.nodes() if distributed else local
    return Pressure(
        running=sum(n.in_use for n in nodes),
        queued=await dispatcher.queued(),
        slots=sum(n.slots for n in nodes),
        nodes=len(nodes),
    )
