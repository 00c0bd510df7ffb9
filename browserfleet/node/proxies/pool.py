"""Choosing an exit for a job: :class:`ProxyPool` (selection, sticky assignment, health).

Selection for a place (the job's :class:`~browserfleet.core.geo.City`; a ``countryCode``-only
render uses the country's default city):

1. the proxies pinned to that city, else every proxy of that country (pinned to another city or
   not). The more specific group is used as long as one of its proxies is healthy;
2. sticky per ``(project, city)``: the first render picks the next healthy proxy round-robin and
   later renders of the same project and place reuse it while it is healthy;
3. ``force_new``: a different healthy proxy when two or more serve the place (otherwise the same
   proxy with a new sticky *session*), which becomes the new sticky choice;
4. health: after ``failures_before_cooldown`` consecutive failed connects through a proxy it is
   out of use for ``cooldown_s``; a success resets the count. After the cool-down one more failure
   takes it out again at once. If every proxy for a place is cooling down, the one whose cool-down
   ends first is still used (traffic never falls back to the node's own network).

State (sticky choices, health) lives in memory per node; a restart starts afresh.
"""

from __future__ import annotations

import hashlib
import itertools
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final

from browserfleet.core.geo import City
from browserfleet.node.proxies.config import ProxyConfig, load_proxies
from browserfleet.settings import Settings

__all__ = ["Assignment", "ProxyPool"]

MAX_STICKY: Final = 100_000
"""Sticky choices kept (least recently used dropped first)."""


@dataclass(frozen=True)
class Assignment:
    """A proxy chosen for one project and place, and the sticky session id to use with it."""

    proxy: ProxyConfig
    session: str


@dataclass
class _Health:
    consecutive_failures: int = 0
    unhealthy_until: float = 0.0
    tripped: bool = False  # went out of use before; one failure after the cool-down suffices
    last_error: str | None = None


@dataclass
class _Sticky:
    proxy: str
    generation: int


class ProxyPool:
    """The node's declared exits, with sticky assignment and health. Not thread-safe (one loop)."""

    def __init__(
        self,
        proxies: Iterable[ProxyConfig],
        *,
        failures_before_cooldown: int = 3,
        cooldown_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.proxies: tuple[ProxyConfig, ...] = tuple(proxies)
        self.failures_before_cooldown = failures_before_cooldown
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._by_name = {proxy.label: proxy for proxy in self.proxies}
        self._health = {proxy.label: _Health() for proxy in self.proxies}
        self._sticky: OrderedDict[tuple[str, str], _Sticky] = OrderedDict()
        self._turn: dict[str, itertools.count[int]] = {}
        self._generations = itertools.count(1)

    @classmethod
    def from_settings(cls, settings: Settings) -> ProxyPool:
        """Validate ``settings.proxies`` and ``settings.proxy_file`` (ProxyConfigError if bad)."""
        return cls(
            load_proxies(settings.proxies, settings.proxy_file),
            failures_before_cooldown=settings.proxy_failures_before_cooldown,
            cooldown_s=settings.proxy_cooldown_s,
        )

    # -- place availability (core's ExitDirectory) --------------------------------------------

    def serves(self, city: City) -> bool:
        """Whether any declared proxy (healthy or not) can be an exit for ``city``."""
        return any(proxy.country == city.country for proxy in self.proxies)

    # -- selection ----------------------------------------------------------------------------

    def groups(self, city: City) -> list[list[ProxyConfig]]:
        """Candidate groups for ``city``, most specific first: pinned to the city, then the country."""
        pinned = [p for p in self.proxies if p.country == city.country and p.city == city.name]
        country = [p for p in self.proxies if p.country == city.country and p.city != city.name]
        return [group for group in (pinned, country) if group]

    def usable(self, city: City, exclude: Iterable[str] = ()) -> list[ProxyConfig]:
        """Healthy proxies of the most specific group that has one (minus ``exclude``); if none is
        healthy anywhere, the excluded-free candidate whose cool-down ends first."""
        skip = set(exclude)
        groups = [[p for p in group if p.label not in skip] for group in self.groups(city)]
        for group in groups:
            healthy = [p for p in group if self.healthy(p)]
            if healthy:
                return healthy
        rest = [p for group in groups for p in group]
        if not rest:
            return []
        return [min(rest, key=lambda p: self._health[p.label].unhealthy_until)]

    def assign(self, project_id: str, city: City, *, force_new: bool = False) -> Assignment | None:
        """The exit for a job of ``project_id`` in ``city``; None if no proxy serves the place."""
        key = (project_id, city.name)
        sticky = self._sticky.get(key)
        usable = self.usable(city)
        if not usable:
            return None
        if sticky is not None and not force_new and any(p.label == sticky.proxy for p in usable):
            self._sticky.move_to_end(key)
            return self._assignment(key, sticky)
        choices = usable
        if force_new and sticky is not None and len(usable) > 1:
            choices = [p for p in usable if p.label != sticky.proxy]
        return self._stick(key, self._next(city, choices))

    def reassign(self, project_id: str, city: City, tried: Iterable[str]) -> Assignment | None:
        """After connects failed through ``tried``: another usable proxy (the new sticky choice)."""
        skip = set(tried)
        healthy = [p for p in self.usable(city, skip) if self.healthy(p)]
        if not healthy:
            return None
        return self._stick((project_id, city.name), self._next(city, healthy))

    def _next(self, city: City, choices: list[ProxyConfig]) -> ProxyConfig:
        turn = next(self._turn.setdefault(city.name, itertools.count()))
        return choices[turn % len(choices)]

    def _stick(self, key: tuple[str, str], proxy: ProxyConfig) -> Assignment:
        sticky = _Sticky(proxy.label, next(self._generations))
        self._sticky[key] = sticky
        self._sticky.move_to_end(key)
        while len(self._sticky) > MAX_STICKY:
            self._sticky.popitem(last=False)
        return self._assignment(key, sticky)

    def _assignment(self, key: tuple[str, str], sticky: _Sticky) -> Assignment:
        seed = f"{key[0]}|{key[1]}|{sticky.proxy}|{sticky.generation}".encode()
        return Assignment(self._by_name[sticky.proxy], hashlib.sha256(seed).hexdigest()[:16])

    def sticky_choice(self, project_id: str, city: City) -> str | None:
        """Name of the proxy currently stuck to ``(project_id, city)``, if any."""
        sticky = self._sticky.get((project_id, city.name))
        return sticky.proxy if sticky else None

    # -- health -------------------------------------------------------------------------------

    def healthy(self, proxy: ProxyConfig) -> bool:
        return self._health[proxy.label].unhealthy_until <= self._clock()

    def record_success(self, proxy: ProxyConfig) -> None:
        health = self._health[proxy.label]
        health.consecutive_failures = 0
        health.tripped = False

    def record_failure(self, proxy: ProxyConfig, error: str) -> None:
        """Count a failed connect through ``proxy``; may take it out of use for the cool-down."""
        health = self._health[proxy.label]
        health.last_error = error
        if not self.healthy(proxy):
            return  # already cooling down (a connect that started before it went out of use)
        health.consecutive_failures += 1
        if health.tripped or health.consecutive_failures >= self.failures_before_cooldown:
            health.unhealthy_until = self._clock() + self.cooldown_s
            health.consecutive_failures = 0
            health.tripped = True

    def status(self) -> list[dict[str, Any]]:
        """Per proxy: name, address (no credentials), place, health - for operators and tests."""
        now = self._clock()
        out: list[dict[str, Any]] = []
        for proxy in self.proxies:
            health = self._health[proxy.label]
            out.append(
                {
                    "name": proxy.label,
                    "address": proxy.address,
                    "country": proxy.country,
                    "city": proxy.city,
                    "healthy": health.unhealthy_until <= now,
                    "consecutiveFailures": health.consecutive_failures,
                    "cooldownRemainingS": max(0.0, round(health.unhealthy_until - now, 3)),
                    "lastError": health.last_error,
                }
            )
        return out
