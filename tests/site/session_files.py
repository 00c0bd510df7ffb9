"""Session file fixtures: downloads (an attachment and an ``<a download>`` blob) and an upload echo.

``/session-files?t=TAG``: ``a#download-attachment`` → ``/files/data.bin?t=TAG`` (binary bytes of
:func:`attachment_bytes`, ``Content-Disposition: attachment; filename="data-TAG.bin"``);
``a#download-blob`` saves :func:`blob_text` as ``greeting-TAG.txt`` from a JS ``Blob``;
``form#upload-form`` (``input#upload-input`` named ``file``, ``button#upload-submit``) posts to
``POST /upload/echo``, which answers ``{"name", "size", "sha256"}`` of the received file.
"""

from __future__ import annotations

import hashlib
import html
import json
import re

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

NO_STORE = {"Cache-Control": "no-store"}
_TAG = re.compile(r"[^A-Za-z0-9_-]")


def _tag(request: Request) -> str:
    return _TAG.sub("", request.query_params.get("t", "x"))[:40] or "x"


def attachment_bytes(tag: str, size: int = 40_000) -> bytes:
    """Deterministic binary content (every byte value occurs) for ``/files/data.bin?t=TAG``."""
    out = bytearray()
    block = tag.encode()
    while len(out) < size:
        block = hashlib.sha256(block).digest()
        out += block + bytes(range(256))
    return bytes(out[:size])


def blob_text(tag: str) -> str:
    return f"Hello from the session, {tag} — ✓\n"


PAGE = """<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Session files</title></head>
<body>
<h1>Session files</h1>
<p><a id="download-attachment" href="/files/data.bin?t={tag}">data-{tag}.bin</a></p>
<p><a id="download-blob" download="greeting-{tag}.txt" href="#">greeting-{tag}.txt</a></p>
<form id="upload-form" method="post" action="/upload/echo" enctype="multipart/form-data">
  <input type="file" id="upload-input" name="file">
  <button id="upload-submit" type="submit">Send</button>
</form>
<script>
  var link = document.getElementById("download-blob");
  link.href = URL.createObjectURL(new Blob([{text}], {{type: "text/plain"}}));
</script>
</body>
</html>
"""


async def page(request: Request) -> Response:
    tag = _tag(request)
    body = PAGE.format(tag=html.escape(tag), text=json.dumps(blob_text(tag)))
    return HTMLResponse(body, headers=NO_STORE)


async def data_bin(request: Request) -> Response:
    tag = _tag(request)
    return Response(
        attachment_bytes(tag),
        media_type="application/octet-stream",
        headers={"Content-Disposition": f'attachment; filename="data-{tag}.bin"', **NO_STORE},
    )


async def upload_echo(request: Request) -> Response:
    async with request.form() as form:
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            return JSONResponse({"error": "no file part"}, status_code=400)
        data = await upload.read()
        return JSONResponse(
            {"name": upload.filename, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()},
            headers=NO_STORE,
        )


def routes() -> list[BaseRoute]:
    return [
        Route("/session-files", page),
        Route("/files/data.bin", data_bin),
        Route("/upload/echo", upload_echo, methods=["POST"]),
    ]
