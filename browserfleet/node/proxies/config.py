"""Declared upstream proxies: :class:`ProxyConfig` and :func:`load_proxies`.

Operators declare exits in the ``proxies`` setting (a list of dicts) and/or in the YAML file named
by ``proxy_file`` (a top-level ``proxies:`` list); both use the same fields. Every entry is
validated at start-up and a bad one raises :class:`ProxyConfigError` naming the entry
(``proxies[1]`` or ``proxy_file /etc/bf/proxies.yaml: proxies[0]``, plus its ``name``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Final, Literal
from urllib.parse import unquote, urlsplit

import yaml  # type: ignore[import-untyped]  # no stubs locked (types-PyYAML)
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from browserfleet.core.errors import Misconfigured
from browserfleet.core.geo import catalogue

__all__ = ["ProxyConfig", "ProxyConfigError", "load_proxies"]

Scheme = Literal["http", "https", "socks5"]
_DEFAULT_PORTS: Final[dict[str, int]] = {"http": 80, "https": 443, "socks5": 1080}
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_PLACEHOLDERS: Final = frozenset({"session", "user"})


class ProxyConfigError(Misconfigured, ValueError):
    """A declared proxy is invalid; the message names the entry and what is wrong with it."""


class ProxyConfig(BaseModel):
    """One upstream proxy (an exit) serving a country, optionally pinned to a city.

    * ``url`` - ``http://``, ``https://`` (TLS to the proxy) or ``socks5://``, with optional
      ``user:password@`` (percent-encoded); the port defaults to 80 / 443 / 1080. Never shown in
      ``repr``, logs or results.
    * ``country`` - ISO 3166-1 alpha-2, one of the catalogue's countries.
    * ``city`` - optional catalogue city name (``new.york``; normalised), in ``country``.
    * ``sticky`` - optional username template for providers that pin an exit IP per session name,
      e.g. ``customer-acme-session-{session}``: ``{session}`` becomes a stable id per sticky
      assignment (project + place; a new one after ``forceNewProxy``) and ``{user}`` the
      username from ``url``. The password from ``url`` is sent unchanged.
    * ``name`` - shown in results and logs; default ``<country>-<n>`` (n counts per country).
    * ``remote_dns`` - hand the proxy the hostname the browser asked for (default, so the exit
      resolves it in its own place); ``false`` hands it the IP address the node resolved and
      checked against the egress policy instead.
    * ``ca_file`` - for ``https://`` proxies with a private CA: PEM bundle to verify the proxy.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str = Field(repr=False)
    country: str
    city: str | None = None
    sticky: str | None = None
    name: str | None = None
    remote_dns: bool = True
    ca_file: Path | None = None

    @field_validator("url")
    @classmethod
    def _check_url(cls, url: str) -> str:
        parts = urlsplit(url.strip())
        if parts.scheme not in _DEFAULT_PORTS:
            raise ValueError(f"url scheme must be http, https or socks5, not {parts.scheme or 'missing'!r}")
        if not parts.hostname:
            raise ValueError("url has no host")
        try:
            parts.port  # noqa: B018 - raises ValueError for a bad port
        except ValueError as exc:
            raise ValueError(f"url has an invalid port: {exc}") from None
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ValueError("url must be scheme://[user:password@]host[:port] only")
        return url.strip()

    @field_validator("country")
    @classmethod
    def _check_country(cls, code: str) -> str:
        country = catalogue().country(code)
        if country is None:
            supported = ", ".join(c.code for c in catalogue().countries())
            raise ValueError(f"unknown country {code!r} (supported: {supported})")
        return country.code

    @field_validator("sticky")
    @classmethod
    def _check_sticky(cls, template: str | None) -> str | None:
        if template is None:
            return None
        names = set(_PLACEHOLDER.findall(template))
        if "session" not in names:
            raise ValueError("sticky template must contain {session}")
        unknown = names - _PLACEHOLDERS
        if unknown:
            raise ValueError(f"sticky template has unknown placeholders: {sorted(unknown)}")
        return template

    @model_validator(mode="after")
    def _check_city(self) -> ProxyConfig:
        if self.city is not None:
            city = catalogue().city(self.city)
            if city is None:
                raise ValueError(f"unknown city {self.city!r}")
            if city.country != self.country:
                raise ValueError(f"city {city.name!r} is not in country {self.country}")
            object.__setattr__(self, "city", city.name)
        if self.ca_file is not None and self.scheme != "https":
            raise ValueError("ca_file only applies to https:// proxies")
        return self

    # -- parsed url ---------------------------------------------------------------------------

    @property
    def scheme(self) -> Scheme:
        scheme: Scheme = urlsplit(self.url).scheme  # type: ignore[assignment]  # validated
        return scheme

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    @property
    def port(self) -> int:
        return urlsplit(self.url).port or _DEFAULT_PORTS[self.scheme]

    @property
    def username(self) -> str | None:
        user = urlsplit(self.url).username
        return unquote(user) if user is not None else None

    @property
    def password(self) -> str | None:
        password = urlsplit(self.url).password
        return unquote(password) if password is not None else None

    @property
    def address(self) -> str:
        """``scheme://host:port`` without credentials (safe to log)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"

    @property
    def label(self) -> str:
        """The proxy's name (always set after :func:`load_proxies`)."""
        return self.name or self.address

    def credentials(self, session: str) -> tuple[str, str] | None:
        """``(username, password)`` to send for sticky session ``session``; None without auth."""
        user = self.username
        if self.sticky is not None:
            user = self.sticky.replace("{user}", user or "").replace("{session}", session)
        if user is None:
            return None
        return user, self.password or ""


def _describe(where: str, raw: Any) -> str:
    name = raw.get("name") if isinstance(raw, dict) else None
    return f"{where} (name {name!r})" if name else where


def _validate(where: str, raw: Any) -> ProxyConfig:
    if not isinstance(raw, dict):
        raise ProxyConfigError(f"{where}: expected a mapping with url and country, got {type(raw).__name__}")
    try:
        return ProxyConfig.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'entry'}: {err['msg'].removeprefix('Value error, ')}"
            for err in exc.errors()
        )
        raise ProxyConfigError(f"invalid proxy {_describe(where, raw)}: {problems}") from None


def _read_file(path: Path) -> list[Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ProxyConfigError(f"proxy_file {path}: cannot read: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("proxies"), list):
        raise ProxyConfigError(f"proxy_file {path}: expected a top-level 'proxies:' list")
    entries: list[Any] = data["proxies"]
    return entries


def load_proxies(entries: list[dict[str, Any]], proxy_file: Path | None = None) -> tuple[ProxyConfig, ...]:
    """Validate the ``proxies`` setting, then the entries of ``proxy_file``; names are unique.

    Unnamed proxies are called ``<country>-<n>`` (``de-1``, ``de-2``) in declaration order.
    Raises :class:`ProxyConfigError` for the first invalid entry.
    """
    raw: list[tuple[str, Any]] = [(f"proxies[{i}]", entry) for i, entry in enumerate(entries)]
    if proxy_file is not None:
        raw += [(f"proxy_file {proxy_file}: proxies[{i}]", e) for i, e in enumerate(_read_file(proxy_file))]
    validated = [(where, _validate(where, entry)) for where, entry in raw]
    taken = {proxy.name for _, proxy in validated if proxy.name}
    per_country: dict[str, int] = {}
    named: list[ProxyConfig] = []
    seen: set[str] = set()
    for where, declared in validated:
        proxy = declared
        if proxy.name is None:
            n = per_country.get(proxy.country, 0)
            name = ""
            while not name or name in taken:
                n += 1
                name = f"{proxy.country.lower()}-{n}"
            per_country[proxy.country] = n
            taken.add(name)
            proxy = proxy.model_copy(update={"name": name})
        assert proxy.name is not None
        if proxy.name in seen:
            raise ProxyConfigError(f"invalid proxy {where}: duplicate name {proxy.name!r}")
        seen.add(proxy.name)
        named.append(proxy)
    return tuple(named)
