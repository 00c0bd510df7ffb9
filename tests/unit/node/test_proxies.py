"""Upstream proxy pools: declarations, selection, sticky assignment, health, and the chain itself.

The chain tests connect through real stand-in proxies on 127.0.0.1 (tests/support/upstream_proxy.py)
to a tiny local echo server, with the same :class:`ProxyUpstream` the egress channel uses.
"""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from browserfleet.core.geo import City, catalogue
from browserfleet.node.proxies import (
    DestinationUnreachable,
    ProxyConfig,
    ProxyConfigError,
    ProxyFailure,
    ProxyPool,
    ProxyUpstream,
    load_proxies,
)
from tests.support.upstream_proxy import HttpProxyStandIn, Socks5StandIn

LOOPBACK = ipaddress.ip_address("127.0.0.1")


def city(name: str) -> City:
    found = catalogue().city(name)
    assert found is not None, name
    return found


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# ------------------------------------------------------------------------------ declarations


def test_declarations_parse_urls_places_and_default_names() -> None:
    proxies = load_proxies(
        [
            {"url": "http://alice:s%40cret@proxy.example:3128", "country": "de"},
            {"url": "socks5://10.0.0.5", "country": "US", "city": "New York", "name": "nyc"},
            {"url": "https://exit.example", "country": "DE", "city": "Munich"},
        ]
    )
    de1, nyc, de2 = proxies
    assert (de1.name, de1.scheme, de1.host, de1.port) == ("de-1", "http", "proxy.example", 3128)
    assert (de1.username, de1.password, de1.country) == ("alice", "s@cret", "DE")
    assert (nyc.name, nyc.port, nyc.city, nyc.credentials("x")) == ("nyc", 1080, "new.york", None)
    assert (de2.name, de2.port, de2.city, de2.address) == ("de-2", 443, "munich", "https://exit.example:443")
    assert "s@cret" not in repr(de1) and "alice" not in repr(de1)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"url": "ftp://p:21", "country": "DE"}, "url scheme must be http, https or socks5, not 'ftp'"),
        ({"url": "proxy:3128", "country": "DE"}, "url scheme must be"),
        ({"url": "http://p:99999", "country": "DE"}, "invalid port"),
        ({"url": "http://p:1/path", "country": "DE"}, "scheme://[user:password@]host[:port] only"),
        ({"url": "http://p:1", "country": "XX"}, "unknown country 'XX'"),
        ({"url": "http://p:1", "country": "DE", "city": "atlantis"}, "unknown city 'atlantis'"),
        ({"url": "http://p:1", "country": "DE", "city": "new.york"}, "city 'new.york' is not in country DE"),
        ({"url": "http://p:1", "country": "DE", "sticky": "user-fixed"}, "must contain {session}"),
        ({"url": "http://p:1", "country": "DE", "sticky": "{session}-{zone}"}, "unknown placeholders"),
        ({"url": "http://p:1", "country": "DE", "colour": "red"}, "colour: Extra inputs are not permitted"),
        ({"url": "http://p:1", "country": "DE", "ca_file": "/ca.pem"}, "ca_file only applies to https"),
    ],
)
def test_invalid_declaration_names_the_entry(entry: dict[str, str], message: str) -> None:
    good = {"url": "http://ok:1", "country": "US"}
    with pytest.raises(ProxyConfigError) as info:
        load_proxies([good, {**entry, "name": "bad-one"}])
    text = str(info.value)
    assert text.startswith("invalid proxy proxies[1] (name 'bad-one'): "), text
    assert message in text
    assert "p:1" not in text.split(":", 1)[0]


def test_proxy_file_yaml_is_read_after_the_setting(tmp_path: Path) -> None:
    path = tmp_path / "proxies.yaml"
    path.write_text(
        "proxies:\n"
        "  - url: socks5://u:p@127.0.0.1:1080\n    country: GB\n    city: london\n"
        "  - {url: 'http://127.0.0.1:8080', country: DE, name: de-1}\n"
    )
    proxies = load_proxies([{"url": "http://127.0.0.1:3128", "country": "DE"}], path)
    # the unnamed DE proxy of the setting skips the name the file claims for itself
    assert [(p.name, p.country, p.city) for p in proxies] == [
        ("de-2", "DE", None),
        ("gb-1", "GB", "london"),
        ("de-1", "DE", None),
    ]
    path.write_text("proxies:\n  - url: http://127.0.0.1:1\n    country: ZZ\n")
    with pytest.raises(ProxyConfigError, match=r"proxy_file .*proxies\.yaml: proxies\[0\].*unknown country"):
        load_proxies([], path)
    path.write_text("- url: http://x:1\n")
    with pytest.raises(ProxyConfigError, match="top-level 'proxies:' list"):
        load_proxies([], path)
    with pytest.raises(ProxyConfigError, match="duplicate name 'a'"):
        load_proxies([{"url": "http://x:1", "country": "DE", "name": "a"}] * 2)


def test_sticky_template_fills_session_and_user() -> None:
    (proxy,) = load_proxies(
        [{"url": "http://acct:pw@p:1", "country": "DE", "sticky": "{user}-zone-de-session-{session}"}]
    )
    assert proxy.credentials("abc123") == ("acct-zone-de-session-abc123", "pw")
    (bare,) = load_proxies([{"url": "socks5://p:1", "country": "DE", "sticky": "s-{session}"}])
    assert bare.credentials("x9") == ("s-x9", "")


# --------------------------------------------------------------------------------- selection


def pool(*entries: dict[str, str], clock: Clock | None = None, failures: int = 3) -> ProxyPool:
    return ProxyPool(
        load_proxies(list(entries)),
        failures_before_cooldown=failures,
        cooldown_s=30,
        clock=clock or Clock(),
    )


DE_A = {"url": "http://a:1", "country": "DE", "name": "de-a"}
DE_B = {"url": "http://b:1", "country": "DE", "name": "de-b"}
BERLIN = {"url": "http://c:1", "country": "DE", "city": "berlin", "name": "berlin"}
US_NY = {"url": "http://d:1", "country": "US", "city": "new.york", "name": "nyc"}


def test_place_availability_and_city_before_country() -> None:
    p = pool(DE_A, DE_B, BERLIN, US_NY)
    assert p.serves(city("munich")) and p.serves(city("berlin")) and p.serves(city("chicago"))
    assert not p.serves(city("paris"))
    assert p.assign("proj", city("paris")) is None
    # berlin has its own exit; munich only the country's (including the one pinned to berlin)
    assert {p.assign(f"p{i}", city("berlin")).proxy.name for i in range(4)} == {"berlin"}  # type: ignore[union-attr]
    munich = {p.assign(f"p{i}", city("munich")).proxy.name for i in range(6)}  # type: ignore[union-attr]
    assert munich == {"de-a", "de-b", "berlin"}
    # chicago falls back to the US proxy pinned to New York
    assert p.assign("p", city("chicago")).proxy.name == "nyc"  # type: ignore[union-attr]


def test_sticky_per_project_and_place_and_force_new() -> None:
    p = pool(DE_A, DE_B)
    first = p.assign("alpha", city("berlin"))
    assert first is not None
    again = p.assign("alpha", city("berlin"))
    assert again == first  # same proxy, same session
    other = p.assign("beta", city("berlin"))
    assert other is not None and other.proxy.name != first.proxy.name  # round-robin for a new project
    munich = p.assign("alpha", city("munich"))
    assert munich is not None and munich.session != first.session  # another place, another sticky
    forced = p.assign("alpha", city("berlin"), force_new=True)
    assert forced is not None and forced.proxy.name != first.proxy.name
    assert p.assign("alpha", city("berlin")) == forced  # the new choice sticks
    assert p.sticky_choice("alpha", city("berlin")) == forced.proxy.name


def test_force_new_with_one_proxy_keeps_it_with_a_new_session() -> None:
    p = pool(DE_A)
    first = p.assign("alpha", city("berlin"))
    forced = p.assign("alpha", city("berlin"), force_new=True)
    assert first is not None and forced is not None
    assert forced.proxy.name == first.proxy.name and forced.session != first.session


def test_health_cooldown_and_recovery() -> None:
    clock = Clock()
    p = pool(DE_A, DE_B, clock=clock, failures=2)
    a = p.proxies[0]
    first = p.assign("alpha", city("berlin"))
    assert first is not None and first.proxy is a
    p.record_failure(a, "refused")
    assert p.healthy(a)  # one failure is not enough
    p.record_success(a)
    p.record_failure(a, "refused")
    assert p.healthy(a)  # the success reset the count
    p.record_failure(a, "refused")
    assert not p.healthy(a)
    status = {s["name"]: s for s in p.status()}
    assert status["de-a"]["healthy"] is False and status["de-a"]["cooldownRemainingS"] == 30
    assert status["de-a"]["lastError"] == "refused" and "a:1" in status["de-a"]["address"]
    # the sticky choice moves off the unhealthy proxy, and new projects skip it
    moved = p.assign("alpha", city("berlin"))
    assert moved is not None and moved.proxy.name == "de-b"
    assert {p.assign(f"n{i}", city("berlin")).proxy.name for i in range(4)} == {"de-b"}  # type: ignore[union-attr]
    clock.now += 30
    assert p.healthy(a)
    p.record_failure(a, "still dead")
    assert not p.healthy(a)  # after a cool-down, one failure takes it out again
    clock.now += 30
    p.record_success(a)
    p.record_failure(a, "blip")
    assert p.healthy(a)  # a success after the cool-down restores the normal threshold


def test_all_unhealthy_still_uses_the_one_back_soonest() -> None:
    clock = Clock()
    p = pool(DE_A, DE_B, clock=clock, failures=1)
    a, b = p.proxies
    p.record_failure(b, "down")
    clock.now += 10
    p.record_failure(a, "down")
    chosen = p.assign("alpha", city("berlin"))
    assert chosen is not None and chosen.proxy is b  # b's cool-down ends 10 s earlier
    assert p.reassign("alpha", city("berlin"), {"de-b"}) is None  # no healthy alternative


# ------------------------------------------------------------------------------------ chain


@pytest.fixture
async def echo_port() -> AsyncIterator[int]:
    """A TCP server on 127.0.0.1 that answers every line with ``echo: <line>``."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while line := await reader.readline():
            writer.write(b"echo: " + line)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    yield int(server.sockets[0].getsockname()[1])
    server.close()
    await server.wait_closed()


async def roundtrip(upstream: ProxyUpstream, port: int, line: bytes = b"hello\n") -> bytes:
    reader, writer = await upstream.connect("127.0.0.1", LOOPBACK, port)
    writer.write(line)
    answer = await reader.readline()
    writer.close()
    await writer.wait_closed()
    return answer


def upstream_for(p: ProxyPool, place: str = "berlin", project: str = "proj") -> ProxyUpstream:
    made = ProxyUpstream.for_job(p, project, city(place), force_new=False, attempt_timeout=5)
    assert made is not None
    return made


async def test_http_connect_with_basic_auth(echo_port: int) -> None:
    with HttpProxyStandIn(username="user", password="pw") as stand_in:
        p = ProxyPool(load_proxies([{"url": stand_in.url, "country": "DE"}]))
        assert await roundtrip(upstream_for(p), echo_port) == b"echo: hello\n"
        assert stand_in.connects == [f"127.0.0.1:{echo_port}"]
        assert stand_in.users == ["user"]
        assert stand_in.bytes_down == len(b"echo: hello\n") and stand_in.bytes_up == len(b"hello\n")
        # wrong credentials: a proxy failure (407), counted against the proxy, no fallback exists
        wrong = ProxyPool(
            load_proxies([{"url": stand_in.url.replace("pw@", "nope@"), "country": "DE"}]),
            failures_before_cooldown=1,
        )
        with pytest.raises(ProxyFailure, match="407"):
            await roundtrip(upstream_for(wrong), echo_port)
        assert wrong.status()[0]["healthy"] is False
        assert stand_in.refused == ["auth"]


async def test_destination_failure_is_not_held_against_the_proxy(echo_port: int) -> None:
    with HttpProxyStandIn() as stand_in:
        p = ProxyPool(load_proxies([{"url": stand_in.url, "country": "DE"}]), failures_before_cooldown=1)
        upstream = upstream_for(p)
        with pytest.raises(DestinationUnreachable, match="502"):
            await upstream.connect("10.0.0.1", ipaddress.ip_address("10.0.0.1"), 80)
        assert stand_in.refused == ["destination 10.0.0.1"]  # the stand-in never leaves loopback
        assert p.status()[0]["healthy"] is True
        assert await roundtrip(upstream, echo_port) == b"echo: hello\n"


async def test_socks5_with_sticky_session_username(echo_port: int) -> None:
    with Socks5StandIn(username="acct", password="pw", user_pattern=r"acct-session-[0-9a-f]{16}") as stand_in:
        entry = {"url": stand_in.url, "country": "GB", "sticky": "{user}-session-{session}"}
        p = ProxyPool(load_proxies([entry]))
        assert await roundtrip(upstream_for(p, "london"), echo_port, b"via socks\n") == b"echo: via socks\n"
        assert await roundtrip(upstream_for(p, "london"), echo_port) == b"echo: hello\n"
        forced = ProxyUpstream.for_job(p, "proj", city("london"), force_new=True, attempt_timeout=5)
        assert forced is not None
        assert await roundtrip(forced, echo_port) == b"echo: hello\n"
        assert stand_in.connects == [f"127.0.0.1:{echo_port}"] * 3
        first, second, third = stand_in.users
        assert first == second != third  # sticky: same session until forceNewProxy


async def test_failover_to_a_healthy_proxy_and_cooldown(echo_port: int) -> None:
    with HttpProxyStandIn() as dead, HttpProxyStandIn() as alive:
        dead.kill()  # connections dropped unanswered, like a proxy that went away
        p = ProxyPool(
            load_proxies(
                [
                    {"url": dead.url, "country": "DE", "name": "dead"},
                    {"url": alive.url, "country": "DE", "name": "alive"},
                ]
            ),
            failures_before_cooldown=1,
            cooldown_s=60,
        )
        upstream = upstream_for(p)
        assert upstream.served.proxy.name == "dead"
        assert await roundtrip(upstream, echo_port) == b"echo: hello\n"
        assert (upstream.served.proxy.name, upstream.failovers) == ("alive", 1)
        assert p.sticky_choice("proj", city("berlin")) == "alive"
        assert [s["healthy"] for s in p.status()] == [False, True]
        fresh = upstream_for(p, project="other")
        assert fresh.served.proxy.name == "alive"  # the dead one is skipped while cooling down
        assert await roundtrip(fresh, echo_port) == b"echo: hello\n"
        assert fresh.failovers == 0
        assert alive.connects == [f"127.0.0.1:{echo_port}"] * 2


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    yield cert, key


async def test_https_proxy_verified_with_ca_file(echo_port: int, tls_files: tuple[Path, Path]) -> None:
    cert, key = tls_files
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    with HttpProxyStandIn(username="u", password="p", tls=context) as stand_in:
        assert stand_in.url.startswith("https://u:p@127.0.0.1:")
        trusted = ProxyPool(load_proxies([{"url": stand_in.url, "country": "DE", "ca_file": str(cert)}]))
        assert await roundtrip(upstream_for(trusted), echo_port) == b"echo: hello\n"
        assert stand_in.connects == [f"127.0.0.1:{echo_port}"] and stand_in.users == ["u"]
        untrusted = ProxyPool(load_proxies([{"url": stand_in.url, "country": "DE"}]))
        with pytest.raises(ProxyFailure, match="CERTIFICATE_VERIFY_FAILED"):
            await roundtrip(upstream_for(untrusted), echo_port)


def test_config_model_is_frozen() -> None:
    (proxy,) = load_proxies([DE_A])
    assert isinstance(proxy, ProxyConfig)
    with pytest.raises(ValueError, match="frozen"):
        proxy.country = "US"  # type: ignore[misc]
