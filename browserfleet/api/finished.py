"""Finished results served from memory: the read path of polling clients.

A render, a session, an automation run or a browsing task never changes once it has finished,
and its clients keep asking for it (the Browser7 SDK polls every ``retryAfter`` seconds). So:

1. a route answering with a finished result calls :func:`final` (the project it belongs to, until
   when its answer holds, and an optional gate such as a rate limit);
2. :class:`ServeFinished`, an ASGI middleware just outside the router, keeps the bytes the route
   sent — status, headers and body exactly as encoded — in a :class:`ResultCache` bounded in bytes
   (least recently used out first) and in age (``result_cache_s``, and the ``until`` given);
3. the next ``GET`` of the same path and query (``wait`` aside: a finished result does not wait)
   by the same project, reaching the same scheme and ``Host``, is answered from memory: the key is checked
   with the authentication cache (core/accounts.py, ``auth_cache_s``), the gate is passed, and
   neither the router, the database nor a blob file is touched. Another project's key never
   finds the entry (the project is part of the key): its request goes to the route, which answers
   404 as always.

Every finished 2xx answer carries a strong ``ETag`` (a hash of its body); a request whose
``If-None-Match`` names it gets ``304 Not Modified`` without the body (a failed render's 422 is
kept too, without an ETag). An unfinished result is
never cached and has no ``ETag``: each poll reads it fresh. A request the fast path cannot answer
(unknown or uncached key, refused gate, no entry) goes to the app unchanged, which gives the
family's own error envelope.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import parse_qsl, urlencode

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from browserfleet.core.accounts import api_key_of, hash_key
from browserfleet.core.errors import BrowserfleetError
from browserfleet.settings import Settings
from browserfleet.store.records import ProjectRecord

FINAL = "browserfleet.final"  # scope key set by final()
IGNORED_PARAMS = frozenset({"wait"})  # long-poll only: the same finished answer with or without
ENTRY_OVERHEAD = 256  # bytes counted per entry besides its body (key, headers)

Gate = Callable[[str], Awaitable[None]]
"""Called with the key's SHA-256 before a cached answer is served; raises a BrowserfleetError to
refuse (the request then goes to the app, whose dependencies answer it)."""


@dataclass(frozen=True)
class Final:
    project_id: str
    until: float | None  # epoch seconds
    gate: Gate | None


def final(
    request: Request, project: ProjectRecord, *, until: datetime | None = None, gate: Gate | None = None
) -> None:
    """Declares this request's answer final: it is the same for ``project`` until ``until`` (or
    for good). Call it just before returning the answer."""
    request.scope[FINAL] = Final(project.id, until.timestamp() if until else None, gate)


# --- the cache ------------------------------------------------------------------------------------

CacheKey = tuple[str, str, str, str]  # path, project id, canonical query, scheme://Host


@dataclass(frozen=True)
class Entry:
    status: int
    headers: tuple[tuple[bytes, bytes], ...]  # as the route sent them, plus the ETag
    body: bytes
    etag: bytes  # empty: not a 2xx answer (no ETag, no 304)
    expires: float  # epoch seconds
    gate: Gate | None

    @property
    def size(self) -> int:
        return len(self.body) + ENTRY_OVERHEAD


class ResultCache:
    """Finished answers by (path, project, query, Host), at most ``max_bytes`` in all and each
    for at most ``max_age_s``. ``max_bytes`` 0: nothing is kept (answers still get an ETag)."""

    def __init__(self, max_bytes: int, max_age_s: float) -> None:
        self.max_bytes = max_bytes
        self.max_age_s = max_age_s
        self._entries: OrderedDict[CacheKey, Entry] = OrderedDict()
        self._paths: dict[str, int] = {}  # path -> entries: most requests leave at one dict look-up
        self._bytes = 0

    @classmethod
    def from_settings(cls, settings: Settings) -> ResultCache:
        return cls(int(settings.result_cache_mb * 1024 * 1024), settings.result_cache_s)

    def __len__(self) -> int:
        return len(self._entries)

    def has_path(self, path: str) -> bool:
        return path in self._paths

    def get(self, key: CacheKey) -> Entry | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.expires <= time.time():
            self._remove(key)
            return None
        self._entries.move_to_end(key)
        return entry

    def put(self, key: CacheKey, entry: Entry) -> None:
        if entry.size > self.max_bytes:
            return
        if key in self._entries:
            self._remove(key)
        self._entries[key] = entry
        self._paths[key[0]] = self._paths.get(key[0], 0) + 1
        self._bytes += entry.size
        while self._bytes > self.max_bytes:
            self._remove(next(iter(self._entries)))

    def clear(self) -> None:
        self._entries.clear()
        self._paths.clear()
        self._bytes = 0

    def _remove(self, key: CacheKey) -> None:
        entry = self._entries.pop(key)
        self._bytes -= entry.size
        left = self._paths[key[0]] - 1
        if left:
            self._paths[key[0]] = left
        else:
            del self._paths[key[0]]


def cache_key(scope: Scope, project_id: str) -> CacheKey:
    query = scope.get("query_string", b"").decode("latin-1")
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode(sorted(p for p in pairs if p[0] not in IGNORED_PARAMS))
    # URLs in an answer may be built on the scheme and Host (core/public_base.py)
    return (scope["path"], project_id, query, f"{scope.get('scheme', '')}://{_header(scope, b'host') or ''}")


# --- HTTP -------------------------------------------------------------------------------------------


def etag_of(body: bytes) -> bytes:
    return b'"' + hashlib.blake2b(body, digest_size=16).hexdigest().encode() + b'"'


def not_modified(scope: Scope, etag: bytes) -> bool:
    """Whether ``If-None-Match`` names ``etag`` (weak comparison, as RFC 9110 asks) or is ``*``."""
    given = _header(scope, b"if-none-match")
    if not given:
        return False
    wanted = etag.decode()
    tags = (t.strip().removeprefix("W/") for t in given.split(","))
    return any(t in ("*", wanted) for t in tags)


async def _answer(send: Send, scope: Scope, entry: Entry) -> None:
    if entry.etag and not_modified(scope, entry.etag):
        await send({"type": "http.response.start", "status": 304, "headers": [(b"etag", entry.etag)]})
        await send({"type": "http.response.body", "body": b""})
        return
    await send({"type": "http.response.start", "status": entry.status, "headers": list(entry.headers)})
    await send({"type": "http.response.body", "body": entry.body})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None


class ServeFinished:
    """The ASGI middleware of this module (see its docstring)."""

    def __init__(self, app: ASGIApp, cache: ResultCache) -> None:
        self.app = app
        self.cache = cache

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        if self.cache.has_path(scope["path"]) and await self._from_memory(scope, send):
            return
        await self.app(scope, receive, _Capture(scope, send, self.cache))

    async def _from_memory(self, scope: Scope, send: Send) -> bool:
        key = api_key_of(Headers(scope=scope))
        if not key:
            return False
        digest = hash_key(key)
        try:  # the authentication cache first, the store only when it has no answer
            project = await scope["app"].state.fleet.accounts.authenticate_digest(digest)
        except BrowserfleetError:
            return False  # the route's dependencies answer it, in the family's envelope
        entry = self.cache.get(cache_key(scope, project.id))
        if entry is None:
            return False
        if entry.gate is not None:
            try:
                await entry.gate(digest)
            except BrowserfleetError:
                return False
        await _answer(send, scope, entry)
        return True


class _Capture:
    """The ``send`` of a request that went to the app: passes every message on, except that the
    answer of a route that called :func:`final` is collected, cached, and sent with its ETag (or
    as a 304)."""

    def __init__(self, scope: Scope, send: Send, cache: ResultCache) -> None:
        self.scope = scope
        self.send = send
        self.cache = cache
        self.start: Message | None = None
        self.chunks: list[bytes] = []

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            if FINAL not in self.scope:
                await self.send(message)
                return
            self.start = message
            return
        if self.start is None or message["type"] != "http.response.body":
            await self.send(message)
            return
        self.chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            await self._finish(self.start, b"".join(self.chunks))

    async def _finish(self, start: Message, body: bytes) -> None:
        mark: Final = self.scope[FINAL]
        status = int(start["status"])
        if status >= 500:
            await self.send(start)
            await self.send({"type": "http.response.body", "body": body})
            return
        # validators for successful answers only: a 422 (a failed render) is kept, never a 304
        etag = etag_of(body) if 200 <= status < 300 else b""
        headers = [h for h in start.get("headers", ()) if h[0].lower() != b"etag"]
        if etag:
            headers.append((b"etag", etag))
        expires = time.time() + self.cache.max_age_s
        if mark.until is not None:
            expires = min(expires, mark.until)
        entry = Entry(status, tuple(headers), body, etag, expires, mark.gate)
        if self.cache.max_bytes and expires > time.time():
            self.cache.put(cache_key(self.scope, mark.project_id), entry)
        await _answer(self.send, self.scope, entry)
