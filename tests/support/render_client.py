"""Helpers for Renders API tests: start renders with the browser7 SDK, finish them fast.

The SDK's ``render()`` sleeps 2 s before it polls. :func:`render_all` instead creates the renders
with ``create_render`` (all at once, so they run in parallel on the node's slots), waits for each
with one long-poll ``GET /v1/renders/{id}?wait=…`` (a browserfleet extension) and then reads the
finished render back with the SDK's ``get_render`` so tests see the SDK-decoded result (``html``
and ``fetch_responses`` decompressed) next to the raw wire body (billing fields the SDK drops).

Also: :func:`element` (stdlib HTML parsing of a rendered page) and :func:`png_size`.
"""

from __future__ import annotations

import struct
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

import httpx
from browser7 import Browser7, RenderResult

LONG_POLL_S = 30.0
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"


@dataclass
class Rendered:
    """A finished render: its id, the raw ``GET`` body and the SDK's decoded result."""

    render_id: str
    wire: dict[str, Any]
    result: RenderResult

    @property
    def html(self) -> str:
        assert self.result.html is not None, f"render {self.render_id} has no html"
        return self.result.html


def wait_render(client: Browser7, render_id: str, timeout: float = 100.0) -> httpx.Response:
    """Long-poll ``GET /v1/renders/{id}?wait=`` until the render is terminal; the raw response."""
    deadline = time.monotonic() + timeout
    headers = {"Authorization": f"Bearer {client.api_key}"}
    with httpx.Client(headers=headers, timeout=LONG_POLL_S + 15) as http:
        while True:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"render {render_id} still processing after {timeout:g}s"
            wait = max(1.0, min(LONG_POLL_S, remaining))
            response = http.get(f"{client.base_url}/renders/{render_id}", params={"wait": wait})
            if response.status_code != 200 or response.json().get("status") != "processing":
                return response


def render_all(client: Browser7, jobs: list[tuple[str, dict[str, Any]]]) -> list[Rendered]:
    """Create every ``(url, sdk_options)`` render, then wait for all; each must complete."""
    ids = [client.create_render(url, **options)["renderId"] for url, options in jobs]
    done: list[Rendered] = []
    for render_id in ids:
        response = wait_render(client, render_id)
        assert response.status_code == 200, f"render {render_id}: {response.status_code} {response.text}"
        wire = response.json()
        assert wire["status"] == "completed", wire
        done.append(Rendered(render_id, wire, client.get_render(render_id)))
    return done


def render_one(client: Browser7, url: str, **options: Any) -> Rendered:
    """One render through :func:`render_all`."""
    return render_all(client, [(url, options)])[0]


# ------------------------------------------------------------------ reading what was rendered


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    text: str = ""
    _parts: list[str] = field(default_factory=list, repr=False)


class _Finder(HTMLParser):
    """Collects the first element matching ``id`` (or ``class``) with its text content."""

    VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source"})

    def __init__(self, element_id: str | None, class_name: str | None) -> None:
        super().__init__(convert_charrefs=True)
        self.element_id = element_id
        self.class_name = class_name
        self.found: Element | None = None
        self.depth = 0  # open tags inside the found element (0 = not inside)

    def _matches(self, attrs: dict[str, str]) -> bool:
        if self.element_id is not None:
            return attrs.get("id") == self.element_id
        return self.class_name in attrs.get("class", "").split()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if self.found is None and self._matches(values):
            self.found = Element(tag, values)
            self.depth = 0 if tag in self.VOID else 1
        elif self.depth and tag not in self.VOID:
            self.depth += 1

    def handle_endtag(self, tag: str) -> None:
        if self.depth:
            self.depth -= 1

    def handle_data(self, data: str) -> None:
        if self.depth and self.found is not None:
            self.found._parts.append(data)


def element(html: str, element_id: str | None = None, *, class_name: str | None = None) -> Element | None:
    """The first element with that ``id`` (or class) in ``html``, with its text; None if absent."""
    assert (element_id is None) != (class_name is None), "give exactly one of element_id, class_name"
    finder = _Finder(element_id, class_name)
    finder.feed(html)
    finder.close()
    found = finder.found
    if found is not None:
        found.text = "".join(found._parts).strip()
    return found


def png_size(data: bytes) -> tuple[int, int]:
    """``(width, height)`` from a PNG's IHDR chunk."""
    assert data[:8] == PNG_MAGIC, data[:8]
    assert data[12:16] == b"IHDR", data[12:16]
    width, height = struct.unpack(">II", data[16:24])
    return width, height
