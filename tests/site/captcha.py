"""Server side of the captcha fixtures: the tokens a solver hands out and their verification.

A real site sends the widget's token to Google / hCaptcha / Cloudflare to check it; offline, the
test site checks instead that the token was made by the solver stand-in
(tests/support/captcha_solver.py): ``bfsolve.<nonce>.<HMAC(secret, sitekey.nonce)>``, with
:data:`TOKEN_SECRET` shared by both.

Endpoints: ``POST /captcha/verify?kind=…&t=…`` (the page posts its form; answers ``{ok, kind}``)
and ``GET /captcha/verified?t=…`` (how many posts tagged ``t`` passed or were rejected).

Image captcha: ``GET /captcha/image?t=…`` draws the code the server issued for ``t`` (a fresh one
if none yet) on a canvas shown as ``img#captcha-img``; ``POST /captcha/image/code?t=…`` issues a
fresh code and answers it (``{t, code}``: the test plays the human a solving service employs);
``POST /captcha/image/verify?t=…`` checks the form's ``captcha`` field against the issued code and
counts in the same log as the token checks.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
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
        Route("/captcha/image", image_page),
        Route("/captcha/image/code", image_code, methods=["POST"]),
        Route("/captcha/image/verify", image_verify, methods=["POST"]),
    ]


async def verified(request: Request) -> Response:
    tag = request.query_params.get("t", "")
    return JSONResponse({"t": tag, **_log(request).get(tag)}, headers={"Cache-Control": "no-store"})


# ---------------------------------------------------------------- image captcha

CODE_ALPHABET = "ABCDEFGHJKLMNPRSTUVWXYZ23456789"  # nothing a reader could confuse (0/O, 1/I)
NO_STORE = {"Cache-Control": "no-store"}


class ImageCodes:
    """Thread-safe image-captcha codes issued per test tag ``t``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._codes: dict[str, str] = {}

    def issue(self, tag: str) -> str:
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(6))
        with self._lock:
            self._codes[tag] = code
        return code

    def current(self, tag: str) -> str:
        with self._lock:
            found = self._codes.get(tag)
        return found if found is not None else self.issue(tag)

    def check(self, tag: str, answer: object) -> bool:
        with self._lock:
            code = self._codes.get(tag)
        return code is not None and isinstance(answer, str) and hmac.compare_digest(answer, code)


def _codes(request: Request) -> ImageCodes:
    state = request.app.state
    found: ImageCodes | None = getattr(state, "image_codes", None)
    if found is None:
        found = state.image_codes = ImageCodes()
    return found


async def image_page(request: Request) -> Response:
    code = _codes(request).current(request.query_params.get("t", ""))
    try:
        offset = max(0, min(5000, int(request.query_params.get("offset", "0"))))
    except ValueError:
        offset = 0
    template: bytes = request.app.state.pages["captcha-image.html"]
    body = template.decode().replace("{{code_js}}", json.dumps(code)).replace("{{offset}}", str(offset))
    return HTMLResponse(body, headers=NO_STORE)


async def image_code(request: Request) -> Response:
    tag = request.query_params.get("t", "")
    return JSONResponse({"t": tag, "code": _codes(request).issue(tag)}, headers=NO_STORE)


async def image_verify(request: Request) -> Response:
    tag = request.query_params.get("t", "")
    form = await request.form()
    ok = _codes(request).check(tag, form.get("captcha"))
    _log(request).add(tag, ok)
    return JSONResponse({"ok": ok, "kind": "image"}, headers=NO_STORE)
