"""A session's egress options, checked when it is created: ``proxies`` and ``allowedDomains``.

``proxies`` is ``true`` or an ordered list of rules (shared/compat/sessions.md)::

    {type: "browserbase", geolocation?: {country, city?, state?}, domainPattern?}
    {type: "external", server, username?, password?, domainPattern?}
    {type: "none", domainPattern?}

``domainPattern`` follows Browserbase (docs.browserbase.com/features/proxies, "Proxies Routing
Rules": patterns such as ``wikipedia\\.org`` and ``.*\\.gov``, "the first matching rule is used",
a rule without ``domainPattern`` applies to all domains): a regular expression searched
(unanchored, case-insensitive) in the destination host name; anchor it with ``^``/``$`` to be
strict. The node routes each connection by the first rule that matches (browserfleet/node/
proxies/routing.py); a host no rule matches goes out directly.

``type: "browserbase"`` means the node's own exit proxies for the place; ``proxies: true`` means
the exits of the node's own country (``node_country``) when some serve it, else of the first
country (alphabetically) any exit serves. When no exit proxy is configured at all, both are a 400
naming the settings (:data:`NO_EXIT`) unless ``session_proxy_direct_fallback`` lets that traffic
leave directly. With ``require_geo_proxy`` a place no exit serves is a 400 here; without, the
session's traffic for that rule leaves directly and its result records it.

Everything here raises :class:`InvalidRequest` naming the field (``proxies[1].server``).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Final
from urllib.parse import urlsplit

from browserfleet.core.errors import InvalidRequest
from browserfleet.core.exits import ExitDirectory
from browserfleet.core.geo import City, catalogue

__all__ = [
    "NO_EXIT",
    "PROXY_SCHEMES",
    "any_exit",
    "check_session_egress",
    "compile_domain_pattern",
    "default_place",
    "parse_proxy_server",
    "rule_place",
]

PROXY_SCHEMES: Final[dict[str, int]] = {"http": 80, "https": 443, "socks5": 1080}
MAX_PATTERN: Final = 500
NO_EXIT: Final = (
    "no exit proxy is configured on this deployment (settings proxies / proxy_file, "
    "docs/proxies.md); set session_proxy_direct_fallback to let this traffic leave directly instead"
)


def _invalid(field: str, message: str) -> InvalidRequest:
    return InvalidRequest(f"{field}: {message}", details=[{"field": field, "message": message}])


def parse_proxy_server(server: str) -> tuple[str, str, int]:
    """``http://``, ``https://``, ``socks5://`` URL or bare ``host:port`` (meaning http) →
    ``(scheme, host, port)``. ValueError says what is wrong. Credentials in the URL are refused:
    they belong in ``username``/``password``."""
    text = server.strip()
    if "://" not in text:
        text = f"http://{text}"
    parts = urlsplit(text)
    if parts.scheme not in PROXY_SCHEMES:
        raise ValueError(f"scheme must be http, https or socks5, not {parts.scheme!r}")
    if parts.username is not None or parts.password is not None:
        raise ValueError("put credentials in username and password, not in the server URL")
    if not parts.hostname:
        raise ValueError("no host")
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"invalid port: {exc}") from None
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError("must be scheme://host[:port] only")
    host = parts.hostname
    if not re.fullmatch(r"[a-z0-9.\-]+", host):
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise ValueError(f"invalid host {host!r}") from None
    return parts.scheme, host, port or PROXY_SCHEMES[parts.scheme]


def compile_domain_pattern(pattern: str) -> re.Pattern[str]:
    """The ``domainPattern`` regex (searched, case-insensitive); ValueError if it is not one."""
    if len(pattern) > MAX_PATTERN:
        raise ValueError(f"longer than {MAX_PATTERN} characters")
    try:
        return re.compile(pattern, re.IGNORECASE)
    except re.error as exc:
        raise ValueError(f"not a regular expression: {exc}") from None


def default_place(exits: ExitDirectory | None, node_country: str | None) -> City | None:
    """The place of ``proxies: true``: the node's country if served, else the first served one."""
    if exits is None:
        return None
    geo = catalogue()
    codes = [c.code for c in geo.countries()]
    if node_country and geo.country(node_country) is not None:
        codes.insert(0, node_country.upper())
    for code in codes:
        city = geo.resolve(code, None)
        if city is not None and exits.serves(city):
            return city
    return None


def any_exit(exits: ExitDirectory | None) -> bool:
    """Is any exit proxy configured (does it serve some place of the catalogue)?"""
    return default_place(exits, None) is not None


def rule_place(rule: dict[str, Any], field: str) -> City | None:
    """The place of a ``browserbase`` rule (None: no geolocation given). 400 for an unknown one."""
    geolocation = rule.get("geolocation")
    if not geolocation:
        return None
    try:
        return catalogue().resolve(geolocation.get("country"), geolocation.get("city"))
    except InvalidRequest as exc:
        sub = "city" if exc.details and exc.details[0].get("field") == "city" else "country"
        raise _invalid(f"{field}.geolocation.{sub}", str(exc)) from None


def check_session_egress(
    proxies: Any,
    allowed_domains: list[str] | None = None,
    *,
    exits: ExitDirectory | None = None,
    require_geo_proxy: bool = False,
    node_country: str | None = None,
    direct_fallback: bool = False,
) -> None:
    """Validate a create request's ``proxies`` and ``allowedDomains`` (see module docstring).
    ``direct_fallback``: without any exit proxy, ``proxies: true`` and ``browserbase`` rules go
    direct (the ``session_proxy_direct_fallback`` setting) instead of a 400."""
    for i, domain in enumerate(allowed_domains or []):
        name = domain.strip().lower().removeprefix("*.")
        if not name or not re.fullmatch(r"[a-z0-9_.\-\[\]:]+", name):
            raise _invalid(f"browserSettings.allowedDomains[{i}]", f"not a domain name: {domain!r}")
    if proxies is True:
        if (require_geo_proxy or not direct_fallback) and default_place(exits, node_country) is None:
            raise _invalid("proxies", f"proxies: true needs an exit proxy, but {NO_EXIT}")
        return
    if isinstance(proxies, list):
        for i, rule in enumerate(proxies):
            _check_rule(rule, f"proxies[{i}]", exits, require_geo_proxy, node_country, direct_fallback)


def _check_rule(
    rule: dict[str, Any],
    field: str,
    exits: ExitDirectory | None,
    require_geo_proxy: bool,
    node_country: str | None,
    direct_fallback: bool,
) -> None:
    pattern = rule.get("domainPattern")
    if pattern is not None:
        try:
            compile_domain_pattern(pattern)
        except ValueError as exc:
            raise _invalid(f"{field}.domainPattern", str(exc)) from None
    kind = rule.get("type")
    if kind == "external":
        try:
            parse_proxy_server(str(rule.get("server", "")))
        except ValueError as exc:
            raise _invalid(f"{field}.server", str(exc)) from None
    elif kind == "browserbase":
        place = rule_place(rule, field) or default_place(exits, node_country)
        if require_geo_proxy and (place is None or exits is None or not exits.serves(place)):
            where = f"{place.name} ({place.country})" if place is not None else "this rule"
            raise _invalid(f"{field}.geolocation", f"No exit proxy for {where}")
        if not direct_fallback and not any_exit(exits):
            raise _invalid(field, f"a browserbase rule needs an exit proxy, but {NO_EXIT}")
