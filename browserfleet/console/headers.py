"""What every console response carries: the browser's CSRF nonce cookie and security headers.

Pages may load only the console's own scripts, styles, images and media; they may not be framed
by another site; nothing is cached. A response that sets its own Content-Security-Policy (the
sandboxed HTML preview) keeps it.
"""

from __future__ import annotations

from http.cookies import SimpleCookie

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from browserfleet.console.auth import NONCE_COOKIE, ConsoleAuth

PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    "media-src 'self' blob:; frame-src 'self'; connect-src 'self'; font-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'"
)
SECURITY_HEADERS = {
    "content-security-policy": PAGE_CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "SAMEORIGIN",
    "cache-control": "no-store",
}


def cookie_header(name: str, value: str, *, secure: bool, max_age: int | None) -> str:
    """A ``Set-Cookie`` value: HttpOnly, SameSite=Strict, path /console, Secure over HTTPS."""
    parts = [f"{name}={value}", "Path=/console", "HttpOnly", "SameSite=Strict"]
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    if secure:
        parts.append("Secure")
    return "; ".join(parts)


def is_https(scope: Scope) -> bool:
    return scope.get("scheme") in ("https", "wss")


class ConsoleHeaders:
    """ASGI middleware: gives each browser a nonce cookie (``scope["state"]["nonce"]``) and every
    response the security headers it does not set itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nonce = _cookie(scope, NONCE_COOKIE)
        fresh = nonce is None
        scope.setdefault("state", {})["nonce"] = nonce or ConsoleAuth.new_nonce()

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    if name not in headers:
                        headers[name] = value
                if fresh and "nonce-set" not in scope["state"]:
                    cookie = cookie_header(
                        NONCE_COOKIE, scope["state"]["nonce"], secure=is_https(scope), max_age=None
                    )
                    headers.append("set-cookie", cookie)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _cookie(scope: Scope, name: str) -> str | None:
    for key, value in scope.get("headers", []):
        if key == b"cookie":
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(value.decode("latin-1"))
            except Exception:  # a malformed Cookie header: as if there were none
                return None
            if name in jar:
                return jar[name].value
    return None
