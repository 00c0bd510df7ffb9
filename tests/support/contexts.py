"""Helpers for context (saved profile) tests: the documented upload encryption, archives, a real
Chromium user-data-dir built with chromium-headless-shell, and reading a page's storage."""

from __future__ import annotations

import asyncio
import io
import os
import tempfile
import time
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes, padding, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.padding import MGF1, OAEP
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from playwright.sync_api import sync_playwright

from browserfleet.node.cdp import CDPConnection

HEADLESS_SHELL = "/usr/lib/chromium/chromium-headless-shell"
SHELL_FLAGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--password-store=basic",
    "--remote-debugging-port=0",
)


def encrypt_upload(public_key_pem: str, archive: bytes) -> bytes:
    """Exactly the recipe of docs/contexts.md: RSA-OAEP(key) || iv || AES-256-CBC(archive)."""
    public_key = serialization.load_pem_public_key(public_key_pem.encode())
    assert isinstance(public_key, rsa.RSAPublicKey)
    key, iv = os.urandom(32), os.urandom(16)
    padder = padding.PKCS7(128).padder()
    padded = padder.update(archive) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    ciphertext = encryptor.update(padded) + encryptor.finalize()
    wrapped = public_key.encrypt(
        key, OAEP(mgf=MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    )
    return wrapped + iv + ciphertext


def zip_dir(root: Path, prefix: str = "") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(root.rglob("*")):
            if path.is_file() and not path.is_symlink():
                archive.write(path, prefix + path.relative_to(root).as_posix())
    return buffer.getvalue()


def zip_of(entries: Mapping[str, bytes | str], *, top: str = "") -> bytes:
    """A deflated zip of ``entries`` (name → content), every name below ``top`` if given. The
    members carry the current time: build the zip once where its bytes are compared."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in entries.items():
            archive.writestr(top + name, content)
    return buffer.getvalue()


def build_profile(user_data_dir: Path, cookie: dict[str, Any]) -> None:
    """Launch chromium-headless-shell on ``user_data_dir``, set ``cookie`` (persistent) over CDP,
    close it with ``Browser.close`` so it flushes its cookie DB."""
    asyncio.run(_build_profile(user_data_dir, cookie))


async def _build_profile(user_data_dir: Path, cookie: dict[str, Any]) -> None:
    process = await asyncio.create_subprocess_exec(
        HEADLESS_SHELL,
        *SHELL_FLAGS,
        f"--user-data-dir={user_data_dir}",
        "about:blank",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        marker = user_data_dir / "DevToolsActivePort"
        deadline = time.monotonic() + 20
        lines: list[str] = []
        while len(lines) < 2:
            assert time.monotonic() < deadline, "headless shell did not start"
            await asyncio.sleep(0.05)
            lines = marker.read_text().splitlines() if marker.exists() else []
        cdp = await CDPConnection.connect(f"ws://127.0.0.1:{lines[0]}{lines[1]}")
        try:
            await cdp.send("Storage.setCookies", {"cookies": [cookie]})
            stored = (await cdp.send("Storage.getCookies"))["cookies"]
            assert [c["value"] for c in stored if c["name"] == cookie["name"]] == [cookie["value"]]
            await cdp.send("Browser.close")
        finally:
            await cdp.close()
        await asyncio.wait_for(process.wait(), 15)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


def page_state(connect_url: str, url: str, script: str | None = None) -> dict[str, Any]:
    """Open ``url`` in the session's default (persistent) context, run ``script`` (optional), and
    return ``{cookies: {name: value}, local: localStorage.getItem('bf_local')}``."""
    with sync_playwright() as pw:
        browser = pw.chromium.connect_over_cdp(connect_url, timeout=15000)
        try:
            context = browser.contexts[0]
            page = context.new_page()
            page.goto(url)
            if script:
                page.evaluate(script)
            cookies = {c["name"]: c["value"] for c in context.cookies()}
            local = page.evaluate("() => localStorage.getItem('bf_local')")
            page.close()
            return {"cookies": cookies, "local": local}
        finally:
            browser.close()


def temp_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="bf-test-profile-"))
