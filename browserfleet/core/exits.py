"""Place availability, asked by core before it accepts geo-targeted work."""

from __future__ import annotations

from typing import Protocol

from browserfleet.core.geo import City


class ExitDirectory(Protocol):
    """Can some node send a job's traffic out through a proxy in this place?

    Asked when a render (or a fetch with ``proxies``) is created and ``require_geo_proxy`` is set.
    Embedded mode answers from the node's own proxy pool (:class:`browserfleet.node.proxies.ProxyPool`);
    a distributed deployment can answer from the node registry. A place is served when an exit
    proxy of the city's country is declared (selection prefers one pinned to the city; see
    docs/proxies.md).
    """

    def serves(self, city: City) -> bool: ...
