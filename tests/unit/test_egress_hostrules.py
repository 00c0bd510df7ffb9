"""Host rules of an egress channel (allowedDomains, blockAds): matching, list parsing, and the
channel refusing a name before any DNS lookup."""

from __future__ import annotations

import asyncio
from pathlib import Path

from browserfleet.node.egress import EGRESS_HEADER, EgressPolicy, EgressProxy, HostRules
from browserfleet.node.egress.hostrules import bundled_ad_hosts, load_ad_hosts, parse_hosts_text


def test_bundled_list_blocks_ad_subdomains_and_not_ordinary_sites() -> None:
    rules = HostRules.build(block_ads=True, ad_hosts=bundled_ad_hosts())
    assert rules is not None
    assert len(bundled_ad_hosts()) >= 250
    assert rules.refusal("securepubads.g.doubleclick.net") == "ad"
    assert rules.refusal("pagead2.googlesyndication.com") == "ad"
    assert rules.refusal("c.amazon-adsystem.com") == "ad"
    assert rules.refusal("example.com") is None
    assert rules.refusal("notdoubleclick.net") is None  # label boundary, not a string suffix


def test_allowed_domains_cover_subdomains_and_accept_wildcards() -> None:
    rules = HostRules.build(allowed_domains=["Example.com", "*.docs.test", "127.0.0.2"])
    assert rules is not None
    for host in (
        "example.com",
        "www.example.com",
        "a.b.example.com",
        "docs.test",
        "x.docs.test",
        "127.0.0.2",
    ):
        assert rules.refusal(host) is None, host
    for host in ("badexample.com", "example.com.evil.test", "test", "127.0.0.1"):
        assert rules.refusal(host) == "not in allowedDomains", host
    assert HostRules.build(allowed_domains=[], block_ads=False, ad_hosts=["x.test"]) is None


def test_hosts_format_and_plain_lists(tmp_path: Path) -> None:
    text = "# c\n0.0.0.0 ads.one.test ads.two.test\n127.0.0.1 localhost\nplain.test # note\n\n*.wild.test\n"
    assert parse_hosts_text(text) == {"ads.one.test", "ads.two.test", "plain.test", "wild.test"}
    extra = tmp_path / "hosts"
    extra.write_text("0.0.0.0 ads.operator.test\nlocalhost\n")
    domains = load_ad_hosts(extra)
    assert {"ads.operator.test", "localhost", "doubleclick.net"} <= domains


async def _ask(channel_port: int, target: str) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", channel_port)
    writer.write(f"GET http://{target}/ HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    writer.close()
    return head


async def test_channel_refuses_by_name_before_resolving() -> None:
    proxy = EgressProxy(EgressPolicy.from_strings(False, ["127.0.0.1"]), connect_timeout=5)
    rules = HostRules.build(allowed_domains=["allowed.test"], block_ads=True, ad_hosts=["ads.invalid"])
    channel = await proxy.open_channel("job-1", host_rules=rules)
    try:
        # .invalid names never resolve: a 403 (not a 502 DNS failure) proves no lookup happened
        head = await _ask(channel.port, "nope.invalid")
        assert (
            head.startswith(b"HTTP/1.1 403") and f"{EGRESS_HEADER}: blocked".lower().encode() in head.lower()
        )
        attempt = channel.blocked_host("nope.invalid")
        assert attempt is not None and attempt.ip is None and attempt.reason == "not in allowedDomains"
        # an allowed name still goes through resolution (and fails there: 502)
        head = await _ask(channel.port, "allowed.test")
        assert head.startswith(b"HTTP/1.1 502")
    finally:
        await proxy.close()
