"""The local test website: a Starlette app serving the HTML fixtures in ``pages/``.

Every browser test and benchmark loads pages only from this site (the machine is offline).
Static pages are plain HTML/JS files; a few endpoints are dynamic (echoes, delays, counters).
See ``README.md`` next to this file for the list of pages.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import html
import struct
import threading
import zlib
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from tests.site import captcha, session_files, shop

SITE_DIR = Path(__file__).resolve().parent
PAGES_DIR = SITE_DIR / "pages"
STATIC_DIR = SITE_DIR / "static"

NO_STORE = {"Cache-Control": "no-store"}

# URL path -> file in pages/ served as-is.
STATIC_PAGES: dict[str, str] = {
    "/": "index.html",
    "/js-content": "js-content.html",
    "/delayed": "delayed.html",
    "/click": "click.html",
    "/text-later": "text-later.html",
    "/hidden-later": "hidden-later.html",
    "/visibility": "visibility.html",
    "/dialogs": "dialogs.html",
    "/geo": "geo.html",
    "/bench": "bench.html",
    "/bench-late": "bench-late.html",
    "/structured": "structured.html",
    "/search": "search.html",
    "/catalog": "catalog.html",
    "/download": "download.html",
    "/upload": "upload.html",
    "/live-view": "live-view.html",
    "/captcha/recaptcha-v2": "captcha-recaptcha-v2.html",
    "/captcha/recaptcha-v3": "captcha-recaptcha-v3.html",
    "/captcha/hcaptcha": "captcha-hcaptcha.html",
    "/captcha/turnstile": "captcha-turnstile.html",
    "/captcha/iframe": "captcha-iframe.html",
    "/captcha/none": "captcha-none.html",
    "/docs/markdown": "markdown.html",
    "/hostile": "hostile.html",
}

API_ITEMS: list[dict[str, Any]] = [
    {"id": 1, "name": "Alpha"},
    {"id": 2, "name": "Beta"},
    {"id": 3, "name": "Gamma"},
]

# Site keys used by the captcha fixtures (the public test keys' shapes; nothing is loaded remotely).
RECAPTCHA_V2_SITEKEY = "6LeTestV2SiteKey000000000000000000000000"
RECAPTCHA_V3_SITEKEY = "6LeTestV3SiteKey000000000000000000000000"
HCAPTCHA_SITEKEY = "10000000-ffff-ffff-ffff-000000000001"
TURNSTILE_SITEKEY = "1x00000000000000000000AA"
CAPTCHA_SITEKEYS = {
    "recaptcha_v2": RECAPTCHA_V2_SITEKEY,
    "recaptcha_v3": RECAPTCHA_V3_SITEKEY,
    "hcaptcha": HCAPTCHA_SITEKEY,
    "turnstile": TURNSTILE_SITEKEY,
}

REPORT_CSV = "id,name,amount\n1,Alpha,10.00\n2,Beta,20.00\n3,Gamma,30.00\n"

HANG_SECONDS = 3600.0
MAX_DELAY_MS = 60_000
MAX_BIG_KB = 50_000


def _png_1x1() -> bytes:
    """A valid 1x1 opaque red PNG, built from bytes (no file needed)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)  # 1x1, 8-bit, truecolour RGB
    raw = b"\x00\xff\x00\x00"  # filter byte + one red pixel
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    )


PIXEL_PNG = _png_1x1()


class HitCounter:
    """Thread-safe counter keyed by token (image hits per ``t=`` token)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}

    def add(self, key: str, amount: int = 1) -> int:
        with self._lock:
            value = self._counts.get(key, 0) + amount
            self._counts[key] = value
            return value

    def get(self, key: str) -> int:
        with self._lock:
            return self._counts.get(key, 0)


def _int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    """Read an integer query parameter, falling back to ``default`` and clamping to [low, high]."""
    raw = request.query_params.get(name)
    try:
        value = int(raw) if raw is not None else default
    except ValueError:
        value = default
    return max(low, min(high, value))


def _load_pages() -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in PAGES_DIR.glob("*.html")}


def _render(template: bytes, **values: str) -> str:
    """Fill ``{{name}}`` placeholders; values must already be HTML-safe."""
    text = template.decode("utf-8")
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    return text


def _html(content: str | bytes, status_code: int = 200) -> HTMLResponse:
    return HTMLResponse(content, status_code=status_code, headers=NO_STORE)


def _closing_event(request: Request) -> asyncio.Event:
    state = request.app.state
    event: asyncio.Event | None = getattr(state, "closing", None)
    if event is None:  # lifespan not run (e.g. an in-process ASGI transport)
        event = asyncio.Event()
        state.closing = event
    return event


async def _wait_disconnect(request: Request) -> None:
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


async def _first_of(*awaitables: Awaitable[Any]) -> None:
    """Wait until the first awaitable finishes, then cancel and reap the others."""
    tasks = [asyncio.ensure_future(aw) for aw in awaitables]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _make_page_endpoint(body: bytes) -> Any:
    async def endpoint(request: Request) -> Response:
        return _html(body)

    return endpoint


# ---------------------------------------------------------------- dynamic endpoints


async def headers_page(request: Request) -> Response:
    template = request.app.state.pages["headers.html"]
    return _html(
        _render(
            template,
            ua=html.escape(request.headers.get("user-agent", "")),
            accept_language=html.escape(request.headers.get("accept-language", "")),
        )
    )


async def images_page(request: Request) -> Response:
    token = request.query_params.get("t", "")
    template = request.app.state.pages["images.html"]
    return _html(_render(template, token=html.escape(quote(token, safe=""))))


async def pixel_png(request: Request) -> Response:
    request.app.state.image_hits.add(request.query_params.get("t", ""))
    return Response(PIXEL_PNG, media_type="image/png", headers=NO_STORE)


async def hits(request: Request) -> Response:
    token = request.query_params.get("t", "")
    return JSONResponse({"t": token, "images": request.app.state.image_hits.get(token)}, headers=NO_STORE)


async def cacheable(request: Request) -> Response:
    """The one response the HTTP cache may keep (10 minutes); counts the requests that reached
    the server per ``t`` tag (``/cacheable/hits``)."""
    token = request.query_params.get("t", "")
    request.app.state.cache_hits.add(token)
    return PlainTextResponse(f"cacheable {token}", headers={"Cache-Control": "max-age=600"})


async def cacheable_hits(request: Request) -> Response:
    token = request.query_params.get("t", "")
    return JSONResponse({"t": token, "hits": request.app.state.cache_hits.get(token)}, headers=NO_STORE)


async def set_cookie_page(request: Request) -> Response:
    response = _html(request.app.state.pages["set-cookie.html"])
    response.set_cookie("session", "abc", path="/", samesite="lax")
    return response


async def slow(request: Request) -> Response:
    ms = _int_param(request, "ms", 2000, 0, MAX_DELAY_MS)
    await _first_of(asyncio.sleep(ms / 1000), _closing_event(request).wait())
    return _html(_render(request.app.state.pages["slow.html"], ms=str(ms)))


async def hang(request: Request) -> Response:
    """Never answers: returns only when the client goes away or the server stops."""
    state = request.app.state
    state.hang_active.add("active")
    try:
        await _first_of(
            asyncio.sleep(HANG_SECONDS),
            _wait_disconnect(request),
            _closing_event(request).wait(),
        )
    finally:
        state.hang_active.add("active", -1)
    # Only reached on disconnect (the response is dropped) or server shutdown.
    return PlainTextResponse("server stopping", status_code=503)


async def hang_active(request: Request) -> Response:
    return JSONResponse({"active": request.app.state.hang_active.get("active")}, headers=NO_STORE)


@functools.lru_cache(maxsize=16)
def _big_page(kb: int) -> bytes:
    head = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>Big page</title></head>\n'
        f'<body><h1>Big page</h1><div id="big" data-kb="{kb}">\n'
    )
    tail = "</div></body></html>\n"
    target = kb * 1024
    parts = [head]
    size = len(head) + len(tail)
    i = 0
    while size < target:
        line = (
            f"<p>Paragraph {i}: the quick brown fox jumps over the lazy dog; "
            f"checksum {(i * 7919) % 100003:06d}.</p>\n"
        )
        parts.append(line)
        size += len(line)
        i += 1
    parts.append(tail)
    return "".join(parts).encode("ascii")


async def big(request: Request) -> Response:
    kb = _int_param(request, "kb", 500, 0, MAX_BIG_KB)
    return _html(_big_page(kb))


async def redirect(request: Request) -> Response:
    return RedirectResponse(request.query_params.get("to", "/"), status_code=302)


async def report_csv(request: Request) -> Response:
    return Response(
        REPORT_CSV,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="report.csv"', **NO_STORE},
    )


async def favicon(request: Request) -> Response:
    return Response(status_code=204)


async def catalog_item(request: Request) -> Response:
    """A catalog item page (linked from ``/catalog`` results); counts visits per ``t`` tag."""
    number = int(request.path_params["n"])
    token = request.query_params.get("t", "")
    request.app.state.catalog_visits.add(f"{token}:{number}")
    request.app.state.catalog_visits.add(token)
    body = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>Item</title></head>'
        f'<body><h1 id="item-title">Item {number}</h1><p id="item-price">${number * 5}.00</p></body></html>'
    )
    return _html(body)


async def catalog_visits(request: Request) -> Response:
    token = request.query_params.get("t", "")
    counter = request.app.state.catalog_visits
    items = {str(n): counter.get(f"{token}:{n}") for n in range(1, 4)}
    return JSONResponse({"t": token, "visits": counter.get(token), "items": items}, headers=NO_STORE)


# ---------------------------------------------------------------- API


async def api_items(request: Request) -> Response:
    return JSONResponse(API_ITEMS, headers=NO_STORE)


async def api_json(request: Request) -> Response:
    n = _int_param(request, "n", 5, 0, 10_000)
    items = [{"id": i, "name": f"Item {i}"} for i in range(1, n + 1)]
    return JSONResponse({"n": n, "items": items}, headers=NO_STORE)


async def api_text(request: Request) -> Response:
    return PlainTextResponse("plain text from the site", headers=NO_STORE)


async def api_status(request: Request) -> Response:
    code: int = request.path_params["code"]
    if not 200 <= code <= 599:
        return JSONResponse({"error": "status must be 200-599"}, status_code=400)
    if code in (204, 304):  # must not carry a body
        return Response(status_code=code)
    return JSONResponse({"status": code}, status_code=code, headers=NO_STORE)


async def api_echo(request: Request) -> Response:
    body = await request.body()
    return JSONResponse(
        {
            "method": request.method,
            "path": request.url.path,
            "headers": {k.lower(): v for k, v in request.headers.items()},
            "query": dict(request.query_params),
            "body": body.decode("utf-8", errors="replace"),
        },
        headers=NO_STORE,
    )


# ---------------------------------------------------------------- app


@contextlib.asynccontextmanager
async def _lifespan(app: Starlette) -> AsyncIterator[None]:
    # Created on the server's event loop; set by SiteServer just before shutdown so that
    # /hang and /slow return at once instead of holding the graceful shutdown.
    app.state.closing = asyncio.Event()
    yield
    app.state.closing.set()


def begin_shutdown(app: Starlette) -> None:
    """Release pending /hang and /slow requests. Call from the server's event loop."""
    event: asyncio.Event | None = getattr(app.state, "closing", None)
    if event is not None:
        event.set()


def create_site() -> Starlette:
    pages = _load_pages()
    routes: list[BaseRoute] = [
        Route(path, _make_page_endpoint(pages[name]), name=name.removesuffix(".html"))
        for path, name in STATIC_PAGES.items()
    ]
    routes += [
        Route("/headers", headers_page),
        Route("/images", images_page),
        Route("/img/pixel.png", pixel_png),
        Route("/hits", hits),
        Route("/catalog/item/{n:int}", catalog_item),
        Route("/catalog/visits", catalog_visits),
        Route("/set-cookie", set_cookie_page),
        Route("/cacheable", cacheable),
        Route("/cacheable/hits", cacheable_hits),
        Route("/slow", slow),
        Route("/hang", hang),
        Route("/hang/active", hang_active),
        Route("/big", big),
        Route("/redirect", redirect),
        Route("/files/report.csv", report_csv),
        Route("/favicon.ico", favicon),
        *captcha.routes(CAPTCHA_SITEKEYS),
        *session_files.routes(),
        *shop.routes(),
        Route("/api/items", api_items),
        Route("/api/json", api_json),
        Route("/api/text", api_text),
        Route("/api/status/{code:int}", api_status),
        Route("/api/echo", api_echo, methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]),
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
    ]
    app = Starlette(routes=routes, lifespan=_lifespan)
    app.state.pages = pages
    app.state.image_hits = HitCounter()
    app.state.catalog_visits = HitCounter()
    app.state.hang_active = HitCounter()
    app.state.cache_hits = HitCounter()
    return app
