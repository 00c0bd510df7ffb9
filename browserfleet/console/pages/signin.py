"""Sign-in (an API key → a session cookie) and sign-out."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from browserfleet.console.auth import NONCE_COOKIE, SESSION_COOKIE
from browserfleet.console.headers import cookie_header, is_https
from browserfleet.console.web import PREFIX, FormDep, auth_of, fleet_of, render
from browserfleet.core.errors import Unauthenticated

router = APIRouter()


@router.get("/signin")
async def signin_form(request: Request) -> HTMLResponse:
    return render(request, "signin.html")


@router.post("/signin", response_model=None)
async def signin(request: Request, form: FormDep) -> Response:
    key = form.get("key")
    auth = auth_of(request)
    try:
        cookie = await auth.sign_in(key if isinstance(key, str) else "")
    except Unauthenticated as exc:
        return render(request, "signin.html", status=401, error=exc.message)
    response = RedirectResponse(f"{PREFIX}/", status_code=303)
    secure = _secure(request)
    max_age = int(auth.ttl_s)
    response.headers.append(
        "set-cookie", cookie_header(SESSION_COOKIE, cookie, secure=secure, max_age=max_age)
    )
    nonce = auth.new_nonce()  # a new sign-in, new CSRF tokens
    response.headers.append("set-cookie", cookie_header(NONCE_COOKIE, nonce, secure=secure, max_age=None))
    request.scope["state"]["nonce-set"] = True
    return response


@router.post("/signout")
async def signout(request: Request, form: FormDep) -> RedirectResponse:
    response = RedirectResponse(f"{PREFIX}/signin", status_code=303)
    secure = _secure(request)
    response.headers.append("set-cookie", cookie_header(SESSION_COOKIE, "", secure=secure, max_age=0))
    return response


def _secure(request: Request) -> bool:
    """Cookies only over HTTPS when the console is served over HTTPS (here, or at ``public_url``)."""
    public = fleet_of(request).settings.public_url or ""
    return is_https(request.scope) or public.startswith("https://")
