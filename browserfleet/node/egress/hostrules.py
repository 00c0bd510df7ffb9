"""Host rules: refusals decided on the destination's *name*, before it is resolved.

A session's ``browserSettings.allowedDomains`` and ``browserSettings.blockAds`` become one
:class:`HostRules` on its egress channel. The :class:`~browserfleet.node.egress.dial.Dialer`
asks :meth:`HostRules.refusal` before any DNS lookup; a refused host gets the proxy's own ``403``
(``X-Browserfleet-Egress: blocked``) and a recorded :class:`BlockedAttempt` whose reason says
which rule refused it. Host rules only add refusals: the egress policy still checks every
resolved address of a host they let through.

Matching is by domain suffix on label boundaries: a domain covers itself and every subdomain
(``example.com`` covers ``www.example.com``, not ``badexample.com``); a leading ``*.`` is
accepted and means the same. IP literals match only an identical entry.

The ad/tracker list is the bundled ``core/data/ad_hosts.txt`` plus, optionally, an operator file
(setting ``ad_block_hosts_file``); both in hosts format (``0.0.0.0 host`` / ``127.0.0.1 host``)
or one domain per line, ``#`` comments.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Final

__all__ = ["HostRules", "bundled_ad_hosts", "load_ad_hosts", "normalize_domain", "parse_hosts_text"]

_SINK_ADDRESSES: Final = frozenset({"0.0.0.0", "127.0.0.1", "::", "::1", "::0"})
_NOT_HOSTS: Final = frozenset({"localhost", "localhost.localdomain", "broadcasthost", "local", "0.0.0.0"})


def normalize_domain(entry: str) -> str:
    """``*.Example.COM.`` → ``example.com``; ``""`` when nothing is left."""
    domain = entry.strip().lower().rstrip(".")
    if domain.startswith("*."):
        domain = domain[2:]
    elif domain.startswith("."):
        domain = domain[1:]
    if domain.startswith("[") and domain.endswith("]"):
        domain = domain[1:-1]
    return domain


def parse_hosts_text(text: str, *, keep_localhost: bool = False) -> set[str]:
    """Domains of a hosts-format (``0.0.0.0 ads.example``) or one-domain-per-line text.

    ``#`` starts a comment. In hosts format the sink address is skipped and every name after it
    is taken. The usual hosts-file boilerplate (``localhost``, ``broadcasthost``) is skipped
    unless ``keep_localhost`` - an operator file naming ``localhost`` on a line of its own means it.
    """
    domains: set[str] = set()
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        fields = line.split()
        hosts_format = len(fields) > 1 and fields[0] in _SINK_ADDRESSES
        names = fields[1:] if hosts_format else fields
        for name in names:
            domain = normalize_domain(name)
            if not domain or (hosts_format and domain in _NOT_HOSTS and not keep_localhost):
                continue
            domains.add(domain)
    return domains


@functools.cache
def bundled_ad_hosts() -> frozenset[str]:
    """The bundled ad/tracker domains (``browserfleet/core/data/ad_hosts.txt``), read once."""
    text = resources.files("browserfleet.core").joinpath("data").joinpath("ad_hosts.txt").read_text("utf-8")
    return frozenset(parse_hosts_text(text))


def load_ad_hosts(extra_file: Path | None = None) -> frozenset[str]:
    """The bundled list plus the domains of ``extra_file`` (OSError if it cannot be read)."""
    domains = set(bundled_ad_hosts())
    if extra_file is not None:
        domains |= parse_hosts_text(extra_file.read_text(encoding="utf-8"), keep_localhost=True)
    return frozenset(domains)


def _suffixes(host: str) -> Iterable[str]:
    """``a.b.c`` → ``a.b.c``, ``b.c``, ``c`` (an IP literal only itself)."""
    if ":" in host or host.replace(".", "").isdigit():
        yield host
        return
    labels = host.split(".")
    for i in range(len(labels)):
        yield ".".join(labels[i:])


@dataclass(frozen=True)
class HostRules:
    """Name-based refusals of one channel.

    ``allowed_domains``: when not empty, only these domains (and their subdomains) may be reached.
    ``blocked_domains``: these domains and their subdomains are refused (the ad list with
    ``blockAds``), with ``blocked_reason`` as the recorded reason.
    """

    allowed_domains: frozenset[str] = frozenset()
    blocked_domains: frozenset[str] = frozenset()
    blocked_reason: str = "ad"

    @classmethod
    def build(
        cls, *, allowed_domains: Iterable[str] = (), block_ads: bool = False, ad_hosts: Iterable[str] = ()
    ) -> HostRules | None:
        """The rules of a session, or None when it has none."""
        allowed = frozenset(d for d in (normalize_domain(e) for e in allowed_domains) if d)
        blocked = frozenset(ad_hosts) if block_ads else frozenset()
        if not allowed and not blocked:
            return None
        return cls(allowed_domains=allowed, blocked_domains=blocked)

    def refusal(self, host: str) -> str | None:
        """Why ``host`` (normalized: lower-case, no brackets) is refused, or None."""
        suffixes = list(_suffixes(host.rstrip(".")))
        if self.allowed_domains and not any(s in self.allowed_domains for s in suffixes):
            return "not in allowedDomains"
        if self.blocked_domains and any(s in self.blocked_domains for s in suffixes):
            return self.blocked_reason
        return None
