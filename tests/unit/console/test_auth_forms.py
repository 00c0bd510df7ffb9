"""The console's cookie signer and its forms made from the API's request models."""

from __future__ import annotations

import pytest
from starlette.datastructures import FormData

from browserfleet.api.renders.schemas import CreateRenderRequest
from browserfleet.console.auth import ConsoleAuth, CookieSigner, CsrfRefused
from browserfleet.console.forms import body_of, fields_of, validated
from browserfleet.core.errors import InvalidRequest


def test_a_signed_cookie_round_trips_and_a_changed_or_old_one_is_refused() -> None:
    signer = CookieSigner(b"k" * 32)
    value = signer.dumps({"d": "abc"})
    assert signer.loads(value, 60) == {"d": "abc"}
    payload, _, mac = value.rpartition(".")
    assert signer.loads(payload + "." + "0" * len(mac), 60) is None
    assert signer.loads("A" + value[1:], 60) is None
    assert CookieSigner(b"x" * 32).loads(value, 60) is None
    for junk in ("not-a-cookie", "é.é", "é" * 40, value + "x"):  # a hostile browser's cookie is no 500
        assert signer.loads(junk, 60) is None
    assert signer.loads(value, -1) is None  # older than the session's lifetime


def test_csrf_tokens_are_bound_to_the_browsers_nonce() -> None:
    auth = ConsoleAuth(None, CookieSigner(b"k" * 32), admin_key=None, ttl_s=60)  # type: ignore[arg-type]
    token = auth.csrf_token("nonce-1")
    auth.check_csrf("nonce-1", token)
    wrong = (("nonce-2", token), ("nonce-1", None), (None, token), ("nonce-1", token + "0"), ("nonce-1", "é"))
    for nonce, given in wrong:
        with pytest.raises(CsrfRefused):
            auth.check_csrf(nonce, given)


def test_render_form_covers_every_api_option_and_validates_as_the_api() -> None:
    fields = fields_of(CreateRenderRequest)
    names = {f.name for f in fields}
    wire = {f.alias or name for name, f in CreateRenderRequest.model_fields.items()}
    assert names == wire
    form = FormData([("url", "https://example.com"), ("waitFor", '[{"type": "delay", "duration": 500}]')])
    body = body_of(form, fields)
    assert body["waitFor"] == [{"type": "delay", "duration": 500}] and body["blockImages"] is False
    assert validated(CreateRenderRequest, body).url == "https://example.com"
    with pytest.raises(InvalidRequest, match="url"):
        validated(CreateRenderRequest, {"url": "ftp://x"})
    with pytest.raises(InvalidRequest, match="not valid JSON"):
        body_of(FormData([("url", "https://e.com"), ("fetchUrls", "[")]), fields)
