"""Server side of the captcha fixtures: the tokens a solver hands out and their verification.

A real site sends the widget's token to Google / hCaptcha / Cloudflare to check it; offline, the
test site checks instead that the token was made by the solver stand-in
(tests/support/captcha_solver.py): ``bfsolve.<nonce>.<HMAC(secret, sitekey.nonce)>``, with
:data:`TOKEN_SECRET` shared by both.

Endpoints: ``POST /captcha/verify?kind=…&t=…`` (the page posts its form; answers ``{ok, kind}``)
and ``GET /captcha/verified?t=…`` (how many posts tagged ``t`` passed or were rejected).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

TOKEN_SECRET = b"browserfleet-test-site-captcha-secret"
TOKEN_PREFIX = "bfsolve"

# kind -> the form field the widget puts its token in
FIELDS: dict[str, str] = {
    "recaptcha_v2": "g-recaptcha-response",
    "recaptcha_v3": "g-recaptcha-response",
    "hcaptcha": "h-captcha-response",
    "turnstile": "cf-turnstile-response",
}


def _signature(sitekey: str, nonce: str) -> str:
    return hmac.new(TOKEN_SECRET, f"{sitekey}.{nonce}".encode(), hashlib.sha256).hexdigest()


def make_token(sitekey: str) -> str:
    """A fresh token for ``sitekey``, as the solver stand-in returns it."""
    nonce = secrets.token_hex(8)
    return f"{TOKEN_PREFIX}.{nonce}.{_signature(sitekey, nonce)}"


def token_valid(sitekey: str, token: str) -> bool:
    prefix, _, rest = token.partition(".")
    nonce, _, signature = rest.partition(".")
    if prefix != TOKEN_PREFIX or not nonce or not signature:
        return False
    return hmac.compare_digest(signature, _signature(sitekey, nonce))


class VerifyLog:
    """Thread-safe counts of verifications per test tag ``t``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, dict[str, int]] = {}

    def add(self, tag: str, ok: bool) -> None:
        with self._lock:
            counts = self._counts.setdefault(tag, {"verified": 0, "rejected": 0})
            counts["verified" if ok else "rejected"] += 1

    def get(self, tag: str) -> dict[str, int]:
        with self._lock:
            return dict(self._counts.get(tag, {"verified": 0, "rejected": 0}))


def _log(request: Request) -> VerifyLog:
    state = request.app.state
    found: VerifyLog | None = getattr(state, "captcha_log", None)
    if found is None:
        found = state.captcha_log = VerifyLog()
    return found


def routes(sitekeys: dict[str, str]) -> list[Route]:
    """The verification endpoints for the fixtures' site keys (kind -> sitekey)."""

    async def verify(request: Request) -> Response:
        kind = request.query_params.get("kind", "")
        if kind not in FIELDS:
            return JSONResponse({"error": f"unknown kind {kind!r}"}, status_code=400)
        form = await request.form()
        token = form.get(FIELDS[kind])
        ok = isinstance(token, str) and token_valid(sitekeys[kind], token)
        _log(request).add(request.query_params.get("t", ""), ok)
        return JSONResponse({"ok": ok, "kind": kind}, headers={"Cache-Control": "no-store"})

    return [
        Route("/captcha/verify", verify, methods=["POST"]),
        Route("/captcha/verified", verified),
    ]


async def verified(request: Request) -> Response:
    tag = request.query_params.get("t", "")
    return JSONResponse({"t": tag, **_log(request).get(tag)}, headers={"Cache-Control": "no-store"})
