"""Session logs: the CDP traffic of a session's clients, as ``SessionLog`` records.

The CDP proxy (node/session/routes/connect.py) hands every text message of a client connection to a
:class:`ConnectionLog`; each client→browser command is paired with the browser's answer by its
``id`` (ids are per connection) and becomes one record::

    {method, pageId, sessionId, frameId?, loaderId?, timestamp,
     request: {params, rawBody, timestamp}, response: {result, rawBody, timestamp}}

Events are not recorded (they are the bulk of the traffic and carry no command of the client).

``pageId`` is a small int per page target, shared by the whole session (:class:`PageIds`: the
session's logs and recordings use the same numbers): targets are numbered 0, 1, 2… in the order
they first appear (to the node's supervisor or in a client's traffic); a CDP session of a page
maps to its page, a child target (iframe, worker) to its parent's page; browser-level commands
(no CDP session) read ``-1``.

Bounds (settings): at most ``max_records`` records and about ``max_bytes`` per session (the first
ones are kept; what does not fit is counted in :attr:`SessionLog.dropped`); a message larger than
``max_body_bytes`` keeps a truncated ``rawBody`` and no parsed ``params``/``result``.

Secrets never reach a record: headers are kept by an allow-list — only the values of the
standard, non-credential headers in :data:`KEPT_HEADERS` (``Content-Type``, ``Accept``,
``User-Agent``, caching, CORS…; and ``Sec-CH-*``/``Sec-Fetch-*``) stay, every other header value
(``Authorization``, cookies, and any custom ``X-Api-Token`` a site may use) reads ``[REDACTED]``,
in header objects and ``[{name, value}]`` lists under any ``*header*`` key. Cookie values of the
cookie commands (set and get) and password fields read ``[REDACTED]`` too; ``rawBody`` is then
re-serialised from the redacted message.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from browserfleet.settings import Settings

REDACTED = "[REDACTED]"
BROWSER_PAGE = -1
# header values kept in a record; any other header's value is redacted
KEPT_HEADERS = frozenset(
    {
        *("accept", "accept-charset", "accept-encoding", "accept-language", "accept-ranges", "age"),
        *("access-control-allow-credentials", "access-control-allow-headers"),
        *("access-control-allow-methods", "access-control-allow-origin", "access-control-expose-headers"),
        *("access-control-max-age", "access-control-request-headers", "access-control-request-method"),
        *("cache-control", "connection", "content-disposition", "content-encoding", "content-language"),
        *("content-length", "content-location", "content-range", "content-security-policy"),
        *("content-type", "cross-origin-embedder-policy", "cross-origin-opener-policy"),
        *("cross-origin-resource-policy", "date", "dnt", "etag", "expect", "expires", "host"),
        *("if-match", "if-modified-since", "if-none-match", "if-range", "if-unmodified-since"),
        *("keep-alive", "last-modified", "link", "location", "origin", "permissions-policy", "pragma"),
        *("priority", "purpose", "range", "referer", "referrer-policy", "retry-after", "sec-purpose"),
        *("server", "strict-transport-security", "te", "timing-allow-origin", "trailer"),
        *("transfer-encoding", "upgrade", "upgrade-insecure-requests", "user-agent", "vary", "via"),
        *("x-content-type-options", "x-frame-options", "x-requested-with", "x-xss-protection"),
    }
)
KEPT_HEADER_PREFIXES = ("sec-ch-", "sec-fetch-")
PAIR = frozenset({"name", "value"})
SECRET_FIELDS = frozenset({"password", "proxyPassword"})
COOKIE_METHODS = frozenset(
    {
        "Network.setCookie",
        "Network.setCookies",
        "Network.getCookies",
        "Network.getAllCookies",
        "Storage.setCookies",
        "Storage.getCookies",
    }
)
# always parsed whatever their size, so a secret cannot hide in a truncated rawBody
SENSITIVE_METHODS = COOKIE_METHODS | {
    "Network.setExtraHTTPHeaders",
    "Fetch.continueRequest",
    "Fetch.fulfillRequest",
    "Fetch.continueResponse",
    "Fetch.continueWithAuth",
    "Network.continueInterceptedRequest",
    "Network.setUserAgentOverride",
    "Network.replayXHR",
}
MAX_PENDING = 10_000
_HEAD = re.compile(r'"(id|method|sessionId)"\s*:\s*("(?:[^"\\]|\\.)*"|\d+)')


@dataclass(frozen=True)
class LogLimits:
    max_records: int = 5000
    max_bytes: int = 8 * 1024 * 1024
    max_body_bytes: int = 16 * 1024

    @classmethod
    def from_settings(cls, settings: Settings) -> LogLimits:
        """logSession's limits (``session_log_max_*``)."""
        s = settings
        return cls(s.session_log_max_records, s.session_log_max_bytes, s.session_log_max_body_bytes)


class PageIds:
    """Stable small ints for a session's page targets (shared by its logs and recordings)."""

    def __init__(self) -> None:
        self._targets: dict[str, int] = {}
        self._sessions: dict[str, int] = {}

    def target(self, target_id: str) -> int:
        """The page number of a page target (numbered on first sight)."""
        if target_id not in self._targets:
            self._targets[target_id] = len(self._targets)
        return self._targets[target_id]

    def attached(self, cdp_session: str, target_id: str, target_type: str | None, parent: str | None) -> int:
        """A CDP session attached to a target: pages get their own number, children their parent's."""
        if target_type == "page" or target_type is None:
            page = self.target(target_id)
        elif parent is not None and parent in self._sessions:
            page = self._sessions[parent]
        elif target_id in self._targets:
            page = self._targets[target_id]
        else:
            page = BROWSER_PAGE
        self._sessions[cdp_session] = page
        return page

    def of_session(self, cdp_session: str | None) -> int:
        if not cdp_session:
            return BROWSER_PAGE
        return self._sessions.get(cdp_session, BROWSER_PAGE)


class SessionLog:
    def __init__(
        self,
        session_id: str,
        *,
        pages: PageIds | None = None,
        limits: LogLimits | None = None,
    ) -> None:
        limits = limits or LogLimits()
        self.session_id = session_id
        self.pages = pages or PageIds()
        self.max_records = limits.max_records
        self.max_bytes = limits.max_bytes
        self.max_body_bytes = limits.max_body_bytes
        self.records: list[dict[str, Any]] = []
        self.bytes = 0
        self.dropped = 0

    def connection(self) -> ConnectionLog:
        return ConnectionLog(self)

    def snapshot(self) -> list[dict[str, Any]]:
        """The records so far (copies: in-flight records keep changing)."""
        return [dict(record) for record in self.records]

    def to_json(self) -> bytes:
        return json.dumps(self.records, separators=(",", ":")).encode()

    def _admit(self, size: int) -> bool:
        if len(self.records) >= self.max_records or self.bytes + size > self.max_bytes:
            self.dropped += 1
            return False
        self.bytes += size
        return True

    def _grow(self, size: int) -> bool:
        if self.bytes + size > self.max_bytes:
            return False
        self.bytes += size
        return True


class ConnectionLog:
    """One client connection's half-open commands, paired with their answers by ``id``."""

    def __init__(self, log: SessionLog) -> None:
        self.log = log
        self._pending: dict[int, dict[str, Any]] = {}

    def client_message(self, text: str) -> None:
        """A client→browser command: opens a record (answered in :meth:`browser_message`)."""
        now = _now_ms()
        message = self._parse(text, None)
        if message is None:
            return
        message_id, method = message.get("id"), message.get("method")
        if not isinstance(message_id, int) or not isinstance(method, str):
            return
        raw_params = message.get("params")
        params: dict[str, Any] = raw_params if isinstance(raw_params, dict) else {}
        if message.get("__truncated__"):
            params = {}  # too large: rawBody (truncated) only
        pages = self.log.pages
        page = pages.of_session(message.get("sessionId"))
        if page == BROWSER_PAGE and params and method.startswith("Target.") and "targetId" in params:
            page = pages.target(str(params["targetId"]))
        raw = self._raw(text, message)
        if not self.log._admit(2 * len(raw)):  # rawBody and its parsed form, roughly
            return
        record: dict[str, Any] = {
            "method": method,
            "pageId": page,
            "sessionId": self.log.session_id,
            "timestamp": now,
            "request": {"params": params, "rawBody": raw, "timestamp": now},
        }
        if params and isinstance(params.get("frameId"), str):
            record["frameId"] = params["frameId"]
        self.log.records.append(record)
        if len(self._pending) < MAX_PENDING:
            self._pending[message_id] = record

    def browser_message(self, text: str) -> None:
        """A browser→client message: the answer of a pending command, or a target event."""
        head = text[:200]
        if head.startswith('{"method":"Target.attachedToTarget"'):
            event = _loads(text)
            if event is not None:
                self._attached(event)
            return
        if not self._pending or '"id"' not in head:
            return
        match = re.match(r'\{\s*"id"\s*:\s*(\d+)', head)
        if match is None:
            return
        record = self._pending.pop(int(match.group(1)), None)
        if record is not None:
            self._answer(record, text)

    def _answer(self, record: dict[str, Any], text: str) -> None:
        message = self._parse(text, record["method"])
        result: Any = {}
        if message is not None and not message.get("__truncated__"):
            result = message.get("result") if "result" in message else {"error": message.get("error")}
        if not isinstance(result, dict):
            result = {}
        raw = self._raw(text, message)
        if not self.log._grow(2 * len(raw)):
            result, raw = {}, "[dropped: session log byte limit]"
        record["response"] = {"result": result, "rawBody": raw, "timestamp": _now_ms()}
        if isinstance(result, dict):
            for field in ("frameId", "loaderId"):
                if isinstance(result.get(field), str) and field not in record:
                    record[field] = result[field]
            method = record["method"]
            if method == "Target.createTarget" and isinstance(result.get("targetId"), str):
                record["pageId"] = self.log.pages.target(result["targetId"])
            if method == "Target.attachToTarget" and isinstance(result.get("sessionId"), str):
                params = record["request"].get("params") or {}
                if isinstance(params.get("targetId"), str):
                    self.log.pages.attached(result["sessionId"], params["targetId"], None, None)

    def _attached(self, event: dict[str, Any]) -> None:
        params = event.get("params") or {}
        info = params.get("targetInfo") or {}
        if isinstance(params.get("sessionId"), str) and isinstance(info.get("targetId"), str):
            self.log.pages.attached(
                params["sessionId"], info["targetId"], info.get("type"), event.get("sessionId")
            )

    def _parse(self, text: str, method: str | None) -> dict[str, Any] | None:
        """The message, redacted; None when it is too large to parse (and not sensitive)."""
        if len(text) > self.log.max_body_bytes:
            if method is None:
                method = _head_fields(text).get("method")
            if method not in SENSITIVE_METHODS:
                fields = _head_fields(text)
                if not fields.get("id", "").isdigit():
                    return None
                return {
                    "id": int(fields["id"]),
                    "method": fields.get("method"),
                    "sessionId": fields.get("sessionId"),
                    "__truncated__": True,
                }
        message = _loads(text)
        if message is None:
            return None
        redacted = redact(message, method or message.get("method"))
        if redacted is not message:
            redacted["__redacted__"] = True
        return redacted

    def _raw(self, text: str, message: dict[str, Any] | None) -> str:
        if message is not None and message.pop("__redacted__", False):
            text = json.dumps(message, separators=(",", ":"))
        limit = self.log.max_body_bytes
        if len(text) > limit:
            return f"{text[:limit]}…[truncated {len(text) - limit} bytes]"
        return text


def redact(message: dict[str, Any], method: str | None) -> dict[str, Any]:
    """``message`` with secret values replaced (a copy when anything changed, else itself)."""
    changed = False

    def walk(value: Any, key: str | None = None) -> Any:
        nonlocal changed
        if isinstance(value, dict):
            name = value.get("name")
            if _in_headers(key) and isinstance(name, str) and "value" in value and set(value) <= PAIR:
                # a [{name, value}] header list item (Fetch.continueRequest, fulfillRequest…)
                if kept(name):
                    return value
                changed = True
                return {"name": name, "value": REDACTED}
            out: dict[str, Any] = {}
            for k, v in value.items():
                if isinstance(k, str) and _secret_key(k, key, v):
                    out[k] = REDACTED
                    changed = True
                else:
                    out[k] = walk(v, k)
            return out
        if isinstance(value, list):
            return [walk(item, key) for item in value]
        return value

    copy = walk(message)
    if method in COOKIE_METHODS:
        for part in ("params", "result"):
            changed = _redact_cookies(copy.get(part)) or changed
    return copy if changed else message


def _redact_cookies(container: Any) -> bool:
    """``{cookies: [{value}]}`` or one cookie ``{name, value}``: values redacted in place."""
    if not isinstance(container, dict):
        return False
    items = container.get("cookies")
    changed = False
    for cookie in items if isinstance(items, list) else [container]:
        if isinstance(cookie, dict) and "value" in cookie:
            cookie["value"] = REDACTED
            changed = True
    return changed


def kept(header: str) -> bool:
    """Whether a header's value may be recorded (the allow-list; everything else is redacted)."""
    name = header.strip().lower()
    return name in KEPT_HEADERS or name.startswith(KEPT_HEADER_PREFIXES)


def _in_headers(parent: str | None) -> bool:
    return parent is not None and "header" in parent.lower()


def _secret_key(key: str, parent: str | None, value: Any) -> bool:
    if key in SECRET_FIELDS and isinstance(value, str):
        return True
    # a header object: {"Authorization": "…"} under headers / extraHeaders / responseHeaders…
    return _in_headers(parent) and not kept(key) and isinstance(value, str)


def _head_fields(text: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for part in (text[:300], text[-300:]):
        for name, value in _HEAD.findall(part):
            fields.setdefault(name, value.strip('"'))
    return fields


def _loads(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _now_ms() -> int:
    return int(time.time() * 1000)
