"""The console's ASGI app, mounted by the control-plane app (browserfleet/app.py) at ``/console``.

Its own app so that its errors are pages, not an API family's JSON: a core error (another
project's id is a NotFound) renders ``error.html`` with its status; no session sends the browser to
the sign-in form. Static files are the console's own (``static/``) and the npm packages
``make install`` puts under ``js/node_modules`` (only the files the pages load are served).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from browserfleet.console.headers import ConsoleHeaders
from browserfleet.console.pages import (
    automations,
    browsing,
    fleet,
    library,
    overview,
    renders,
    sessions,
    settings,
    signin,
)
from browserfleet.console.web import PREFIX, AdminOnly, NotSignedIn, render
from browserfleet.core.errors import BrowserfleetError

HERE = Path(__file__).parent
VENDOR = HERE / "js" / "node_modules"
PLAYER_JS = VENDOR / "rrweb-player" / "dist" / "rrweb-player.umd.min.cjs"  # defines window.rrwebPlayer
PLAYER_CSS = VENDOR / "rrweb-player" / "dist" / "style.min.css"


def create_console(host: FastAPI) -> FastAPI:
    """The console app; ``host`` is the app whose ``state.fleet`` it serves."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.state.host = host
    app.state.auth = None
    for module in (signin, overview, renders, sessions, library, automations, browsing, fleet, settings):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.add_api_route("/vendor/rrweb-player.js", _vendor(PLAYER_JS, "text/javascript"))
    app.add_api_route("/vendor/rrweb-player.css", _vendor(PLAYER_CSS, "text/css"))
    app.add_exception_handler(NotSignedIn, _to_signin)
    app.add_exception_handler(AdminOnly, _to_fleet)
    app.add_exception_handler(BrowserfleetError, _error_page)
    app.add_exception_handler(StarletteHTTPException, _http_error_page)
    app.add_exception_handler(RequestValidationError, _invalid_page)
    app.add_middleware(ConsoleHeaders)
    return app


def _vendor(path: Path, media_type: str) -> Callable[[], Awaitable[Response]]:
    """A route serving one installed npm file (``make install``) with its JavaScript/CSS type."""

    installed = path.is_file()

    async def serve() -> Response:
        if not installed:
            raise StarletteHTTPException(404, "Not installed: run make install")
        return FileResponse(path, media_type=media_type, headers={"Cache-Control": "public, max-age=86400"})

    return serve


async def _to_signin(request: Request, exc: Exception) -> Response:
    return RedirectResponse(f"{PREFIX}/signin", status_code=303)


async def _to_fleet(request: Request, exc: Exception) -> Response:
    return RedirectResponse(f"{PREFIX}/fleet", status_code=303)


async def _error_page(request: Request, exc: Exception) -> HTMLResponse:
    assert isinstance(exc, BrowserfleetError)
    return render(request, "error.html", status=exc.status, status_code=exc.status, message=exc.message)


async def _http_error_page(request: Request, exc: Exception) -> HTMLResponse:
    assert isinstance(exc, StarletteHTTPException)
    message = "Page not found" if exc.status_code == 404 else str(exc.detail)
    return render(request, "error.html", status=exc.status_code, status_code=exc.status_code, message=message)


async def _invalid_page(request: Request, exc: Exception) -> HTMLResponse:
    assert isinstance(exc, RequestValidationError)
    message = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
    return render(request, "error.html", status=400, status_code=400, message=message)
