"""Secrets a client sends are compared in one place (core/keys.py ``same_secret``)."""

from __future__ import annotations

import time

import pytest

from browserfleet.core.automations.webhooks import sign, verify
from browserfleet.core.keys import same_secret


def test_only_the_same_secret_matches() -> None:
    assert same_secret("bf_abc", "bf_abc")
    assert not same_secret("bf_abd", "bf_abc")
    assert not same_secret("", "bf_abc")


@pytest.mark.parametrize("given", ["é", "bf_abcé", "\ud800", "\uff42\uff46_abc"])
def test_any_string_a_client_sends_is_a_plain_no(given: str) -> None:
    assert same_secret(given, "bf_abc") is False


def test_a_webhook_signature_that_is_not_ascii_is_refused_not_an_error() -> None:
    now = int(time.time())
    body = b'{"uid": "run"}'
    assert verify("secret", str(now), body, sign("secret", now, body))
    assert not verify("secret", str(now), body, "é" * 64)
