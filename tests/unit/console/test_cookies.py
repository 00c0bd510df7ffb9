"""The session cookie's flags, over HTTP and HTTPS, through the real app (no browser needed)."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from fastapi import FastAPI

from browserfleet.app import create_app
from browserfleet.settings import Settings


async def _sign_in(app: FastAPI, base: str, key: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=base) as client:
        form = await client.get("/console/signin")
        token = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert token is not None
        return await client.post("/console/signin", data={"csrf": token.group(1), "key": key})


async def test_cookie_is_http_only_strict_expiring_and_secure_only_over_https(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path, console_session_hours=2), run_nodes=False)
    async with app.router.lifespan_context(app):
        key = (await app.state.fleet.accounts.create_key()).key
        for base, secure in (("http://127.0.0.1", False), ("https://console.example", True)):
            answer = await _sign_in(app, base, key)
            assert answer.status_code == 303
            session = next(c for c in answer.headers.get_list("set-cookie") if c.startswith("bf_console="))
            assert "HttpOnly" in session and "SameSite=Strict" in session and "Max-Age=7200" in session
            assert ("Secure" in session) is secure
            assert key not in session


async def test_a_form_from_another_origin_is_refused_even_with_a_token(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path), run_nodes=False)
    async with app.router.lifespan_context(app):
        key = (await app.state.fleet.accounts.create_key()).key
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8700") as client:
            form = await client.get("/console/signin")
            token = re.search(r'name="csrf" value="([^"]+)"', form.text)
            assert token is not None
            await client.post("/console/signin", data={"csrf": token.group(1), "key": key})
            page = await client.get("/console/settings")
            token = re.search(r'name="csrf" value="([^"]+)"', page.text)
            assert token is not None
            data = {"csrf": token.group(1)}
            elsewhere = await client.post(
                "/console/settings/keys", data=data, headers={"Origin": "http://evil.example"}
            )
            assert elsewhere.status_code == 403
            here = await client.post(
                "/console/settings/keys", data=data, headers={"Origin": "https://127.0.0.1:8700"}
            )
            assert here.status_code == 200 and 'id="new-key"' in here.text
