"""The local test website answers as the browser tests expect (HTTP level, no browser)."""

from __future__ import annotations

import asyncio
import html
import re
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.site.app import (
    HCAPTCHA_SITEKEY,
    RECAPTCHA_V2_SITEKEY,
    RECAPTCHA_V3_SITEKEY,
    STATIC_PAGES,
    TURNSTILE_SITEKEY,
)
from tests.site.server import SiteServer

REPO_ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def client(site_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=site_url, timeout=10) as c:
        yield c


def test_url_is_loopback_with_port(site_server: SiteServer) -> None:
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", site_server.url)
    assert site_server.port > 0


@pytest.mark.parametrize(
    "path",
    [
        *STATIC_PAGES,
        "/headers",
        "/images?t=x",
        "/slow?ms=0",
        "/big?kb=1",
        "/set-cookie",
    ],
)
def test_html_pages_have_titles(client: httpx.Client, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert re.search(r"<title>.+?</title>", r.text)  # a title is text: "<" may be in it (/hostile)


def test_index_links_to_pages(client: httpx.Client) -> None:
    text = client.get("/").text
    for path in ("/js-content", "/geo", "/bench", "/captcha/iframe", "/api/items"):
        assert f'href="{path}' in text


def test_js_content_is_empty_without_js(client: httpx.Client) -> None:
    text = client.get("/js-content").text
    assert '<div id="app"></div>' in text
    assert 'class="product"' not in text


def test_api_endpoints(client: httpx.Client) -> None:
    items = client.get("/api/items").json()
    assert [i["name"] for i in items] == ["Alpha", "Beta", "Gamma"]
    assert [i["id"] for i in items] == [1, 2, 3]

    data = client.get("/api/json", params={"n": 5}).json()
    assert data["n"] == 5
    assert len(data["items"]) == 5

    r = client.get("/api/text")
    assert r.headers["content-type"].startswith("text/plain")
    assert r.text == "plain text from the site"

    for code in (201, 404, 500, 503):
        r = client.get(f"/api/status/{code}")
        assert r.status_code == code
        assert r.json() == {"status": code}
    assert client.get("/api/status/204").status_code == 204

    r = client.post("/api/echo?a=1&b=two", headers={"X-Custom-Thing": "yes"}, content=b"hello")
    echo = r.json()
    assert echo["method"] == "POST"
    assert echo["headers"]["x-custom-thing"] == "yes"
    assert echo["query"] == {"a": "1", "b": "two"}
    assert echo["body"] == "hello"


def test_headers_page_echoes_and_escapes(client: httpx.Client) -> None:
    r = client.get(
        "/headers", headers={"User-Agent": "Bot/1.0 <script>", "Accept-Language": "de-DE,de;q=0.9"}
    )
    assert '<dd id="ua">Bot/1.0 &lt;script&gt;</dd>' in r.text
    assert '<dd id="accept-language">de-DE,de;q=0.9</dd>' in r.text


def test_image_hit_counter(client: httpx.Client) -> None:
    token = uuid.uuid4().hex
    page = client.get("/images", params={"t": token}).text
    srcs = [html.unescape(s) for s in re.findall(r'<img[^>]* src="([^"]+)"', page)]
    assert srcs == [f"/img/pixel.png?t={token}&i={i}" for i in range(1, 6)]
    assert client.get("/hits", params={"t": token}).json() == {"t": token, "images": 0}
    for src in srcs:
        r = client.get(src)
        assert r.headers["content-type"] == "image/png"
        assert r.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert client.get("/hits", params={"t": token}).json() == {"t": token, "images": 5}


def test_slow_waits(client: httpx.Client) -> None:
    start = time.monotonic()
    r = client.get("/slow", params={"ms": 300})
    elapsed = time.monotonic() - start
    assert r.status_code == 200
    assert 'id="slow-done"' in r.text
    assert 0.29 <= elapsed < 3


def test_big_page_size(client: httpx.Client) -> None:
    body = client.get("/big", params={"kb": 50}).content
    assert 50 * 1024 <= len(body) < 51 * 1024
    assert body == client.get("/big", params={"kb": 50}).content


def test_redirect_cookie_download_static(client: httpx.Client) -> None:
    r = client.get("/redirect", params={"to": "/js-content"})
    assert r.status_code == 302
    assert r.headers["location"] == "/js-content"

    r = client.get("/set-cookie")
    assert r.cookies.get("session") == "abc"

    r = client.get("/files/report.csv")
    assert r.headers["content-disposition"] == 'attachment; filename="report.csv"'
    assert r.headers["content-type"].startswith("text/csv")
    assert r.text.startswith("id,name,amount\n")

    r = client.get("/static/recaptcha/api.js", params={"render": RECAPTCHA_V3_SITEKEY})
    assert r.status_code == 200
    assert "javascript" in r.headers["content-type"]


def test_captcha_fixtures_are_offline(client: httpx.Client) -> None:
    markers = {
        "/captcha/recaptcha-v2": f'class="g-recaptcha" data-sitekey="{RECAPTCHA_V2_SITEKEY}"',
        "/captcha/recaptcha-v3": f'src="/static/recaptcha/api.js?render={RECAPTCHA_V3_SITEKEY}"',
        "/captcha/hcaptcha": f'class="h-captcha" data-sitekey="{HCAPTCHA_SITEKEY}"',
        "/captcha/turnstile": f'class="cf-turnstile" data-sitekey="{TURNSTILE_SITEKEY}"',
        "/captcha/iframe": '<iframe id="captcha-frame" src="/captcha/recaptcha-v2"',
    }
    for path, marker in markers.items():
        text = client.get(path).text
        assert marker in text, path
        assert "https://" not in text and "http://" not in text, path
    text = client.get("/captcha/none").text
    assert "captcha" not in text.split("</title>", 1)[1]


async def test_hang_does_not_block_other_requests(site_url: str) -> None:
    async with httpx.AsyncClient(base_url=site_url) as client:
        hang = asyncio.create_task(client.get("/hang", timeout=httpx.Timeout(10, read=1.0)))
        await asyncio.sleep(0.2)
        start = time.monotonic()
        r = await client.get("/api/text", timeout=5)
        assert r.text == "plain text from the site"
        assert time.monotonic() - start < 0.5
        assert (await client.get("/hang/active")).json()["active"] >= 1
        with pytest.raises(httpx.ReadTimeout):
            await hang
        # The client dropped the connection: the server side of /hang ends too.
        deadline = time.monotonic() + 3
        while (await client.get("/hang/active")).json()["active"] != 0:
            assert time.monotonic() < deadline, "/hang was not cancelled on disconnect"
            await asyncio.sleep(0.05)


def test_stop_releases_hanging_request() -> None:
    result: dict[str, object] = {}
    server = SiteServer()
    server.start()
    url = server.url

    def request() -> None:
        try:
            result["status"] = httpx.get(url + "/hang", timeout=10).status_code
        except httpx.HTTPError as exc:  # pragma: no cover - reported by the assert below
            result["status"] = repr(exc)

    thread = threading.Thread(target=request)
    thread.start()
    deadline = time.monotonic() + 3
    while httpx.get(url + "/hang/active").json()["active"] != 1:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    start = time.monotonic()
    server.stop()
    assert time.monotonic() - start < 2
    thread.join(5)
    assert result["status"] == 503
    with pytest.raises(RuntimeError):
        _ = server.url


def test_standalone_module_runs() -> None:
    with subprocess.Popen(
        [sys.executable, "-m", "tests.site.server", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO_ROOT,
    ) as proc:
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            match = re.search(r"http://127\.0\.0\.1:\d+", line)
            assert match, line
            assert httpx.get(match.group(0) + "/api/text", timeout=5).text == "plain text from the site"
        finally:
            proc.terminate()
            assert proc.wait(10) == 0
