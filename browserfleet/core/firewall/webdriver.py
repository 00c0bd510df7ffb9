"""The WebDriver policy: every command a client sends a session's chromedriver, parsed first.

The command path is decoded and split into segments **before** any decision; a path with empty,
``.`` or ``..`` segments, backslashes or control characters is refused, so ``/./session`` or
``/session/../shutdown`` can never mean something other than what was checked. The command must
then match a row of :data:`COMMANDS` (the W3C WebDriver endpoints and the few chromedriver
extensions Selenium uses); anything else — ``/shutdown``, ``goog/cast/*``, ``chromium/launch_app``,
``se/file`` — is refused. What goes to chromedriver is the path rebuilt from the checked segments.

Bodies are checked per command: New Session capabilities are built by the server only
(:func:`new_session_body`: the client may choose a few standard capabilities, never
``goog:chromeOptions``, a proxy or a binary); ``url`` must be one a page may open; the CDP
pass-through commands (``goog/cdp/execute``, ``chromium/send_command…``) go through the same
CDP policy as ``connectUrl``.

When you add a command, also add it to docs/security.md and to tests/security/test_webdriver_firewall.py.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote

from browserfleet.core.firewall.cdp import CdpPolicy, Refuse
from browserfleet.core.firewall.urls import BlockedUrl, check_navigable_url

__all__ = [
    "COMMANDS",
    "Command",
    "WebDriverRefused",
    "check_body",
    "new_session_body",
    "parse_command",
]

_S = "{sid}"  # any single segment
_E = "{eid}"
_SEGMENT: Final = re.compile(r"^[^\x00-\x20\x7f\\/?#%]+$")
# Standard capabilities a client may ask for; everything else is the server's to set.
CLIENT_CAPABILITIES: Final = frozenset(
    {"pageLoadStrategy", "timeouts", "unhandledPromptBehavior", "strictFileInteractability", "setWindowRect"}
)
KEPT_CHROME_OPTIONS: Final = frozenset({"w3c", "perfLoggingPrefs", "windowTypes"})


class WebDriverRefused(ValueError):
    """A command or body the policy refuses; the message is for the client."""


@dataclass(frozen=True)
class Command:
    """A checked command: its method, segments, the matched row and the path to forward."""

    method: str
    segments: tuple[str, ...]
    pattern: str

    @property
    def path(self) -> str:
        return "/".join(quote(segment, safe="") for segment in self.segments)

    @property
    def is_new_session(self) -> bool:
        return self.pattern == "POST session"

    @property
    def is_delete_session(self) -> bool:
        return self.pattern == f"DELETE session/{_S}"

    @property
    def webdriver_session(self) -> str | None:
        return self.segments[1] if len(self.segments) > 1 and self.segments[0] == "session" else None


def _rows(method: str, *paths: str) -> list[str]:
    return [f"{method} {path}" for path in paths]


_P = f"session/{_S}"
_EL = f"{_P}/element/{_E}"
COMMANDS: Final[frozenset[str]] = frozenset(
    [
        "GET status",
        "POST session",
        f"DELETE {_P}",
        *_rows("GET", f"{_P}/timeouts", f"{_P}/url", f"{_P}/title", f"{_P}/window", f"{_P}/window/handles"),
        *_rows("GET", f"{_P}/window/rect", f"{_P}/element/active", f"{_P}/source", f"{_P}/cookie"),
        *_rows("GET", f"{_P}/cookie/{_E}", f"{_P}/alert/text", f"{_P}/screenshot", f"{_P}/se/log/types"),
        *_rows("GET", f"{_EL}/shadow", f"{_EL}/selected", f"{_EL}/attribute/{_E}", f"{_EL}/property/{_E}"),
        *_rows("GET", f"{_EL}/css/{_E}", f"{_EL}/text", f"{_EL}/name", f"{_EL}/rect", f"{_EL}/enabled"),
        *_rows("GET", f"{_EL}/computedrole", f"{_EL}/computedlabel", f"{_EL}/screenshot", f"{_EL}/displayed"),
        *_rows("GET", f"{_P}/goog/network_conditions"),
        *_rows("POST", f"{_P}/timeouts", f"{_P}/url", f"{_P}/back", f"{_P}/forward", f"{_P}/refresh"),
        *_rows("POST", f"{_P}/window", f"{_P}/window/new", f"{_P}/frame", f"{_P}/frame/parent"),
        *_rows("POST", f"{_P}/window/rect", f"{_P}/window/maximize", f"{_P}/window/minimize"),
        *_rows("POST", f"{_P}/window/fullscreen", f"{_P}/element", f"{_P}/elements"),
        *_rows("POST", f"{_EL}/element", f"{_EL}/elements", f"{_EL}/click", f"{_EL}/clear", f"{_EL}/value"),
        *_rows("POST", f"{_P}/shadow/{_E}/element", f"{_P}/shadow/{_E}/elements"),
        *_rows("POST", f"{_P}/execute/sync", f"{_P}/execute/async", f"{_P}/cookie", f"{_P}/actions"),
        *_rows("POST", f"{_P}/alert/dismiss", f"{_P}/alert/accept", f"{_P}/alert/text", f"{_P}/print"),
        *_rows("POST", f"{_P}/se/log", f"{_P}/permissions", f"{_P}/goog/network_conditions"),
        *_rows("POST", f"{_P}/goog/cdp/execute", f"{_P}/chromium/send_command_and_get_result"),
        *_rows("POST", f"{_P}/chromium/send_command"),
        *_rows("DELETE", f"{_P}/window", f"{_P}/cookie", f"{_P}/cookie/{_E}", f"{_P}/actions"),
        *_rows("DELETE", f"{_P}/goog/network_conditions"),
    ]
)


def parse_command(method: str, path: str) -> Command:
    """The command ``method path`` (the path as decoded by the server, relative to the WebDriver
    root), normalised and matched against :data:`COMMANDS`, or :class:`WebDriverRefused`."""
    segments = tuple(path.strip("/").split("/")) if path.strip("/") else ()
    for segment in segments:
        if segment in ("", ".", "..") or not _SEGMENT.match(segment):
            raise WebDriverRefused(f"Invalid WebDriver command path {path!r}")
    pattern = _match(method.upper(), segments)
    if pattern is None:
        raise WebDriverRefused(f"{method.upper()} /{'/'.join(segments)} is not an allowed WebDriver command")
    return Command(method=method.upper(), segments=segments, pattern=pattern)


def _match(method: str, segments: tuple[str, ...]) -> str | None:
    for row in _candidates(method, len(segments)):
        shape = row.split(" ", 1)[1].split("/")
        if all(want in (_S, _E) or want == got for want, got in zip(shape, segments, strict=True)):
            return row
    return None


def _candidates(method: str, length: int) -> list[str]:
    return [
        row
        for row in COMMANDS
        if row.startswith(f"{method} ") and len(row.split(" ", 1)[1].split("/")) == length
    ]


def new_session_body(body: bytes, debugger_address: str) -> bytes:
    """New Session capabilities built by the server: attach to the session's running browser.

    Only :data:`CLIENT_CAPABILITIES` and a few harmless ``goog:chromeOptions`` keys (w3c,
    perfLoggingPrefs, windowTypes) are taken from what the client asked for, first match first."""
    requested = _json(body or b"{}")
    capabilities = requested.get("capabilities") if isinstance(requested, dict) else None
    merged: dict[str, Any] = {}
    if isinstance(capabilities, dict):
        always = capabilities.get("alwaysMatch")
        first = capabilities.get("firstMatch")
        candidates = [always] + (first[:1] if isinstance(first, list) else [])
        for caps in candidates:
            if isinstance(caps, dict):
                merged.update(caps)
    chosen: dict[str, Any] = {k: v for k, v in merged.items() if k in CLIENT_CAPABILITIES}
    given = merged.get("goog:chromeOptions")
    chrome = {k: v for k, v in given.items() if k in KEPT_CHROME_OPTIONS} if isinstance(given, dict) else {}
    chrome["debuggerAddress"] = debugger_address
    chosen.update({"browserName": "chrome", "goog:chromeOptions": chrome})
    return json.dumps({"capabilities": {"alwaysMatch": chosen, "firstMatch": [{}]}}).encode()


def check_body(command: Command, body: bytes, cdp: CdpPolicy) -> bytes:
    """The body to forward for ``command`` (checked, possibly rewritten), or :class:`WebDriverRefused`."""
    check = _BODY_RULES.get(command.pattern)
    return check(body, cdp) if check is not None else body


def _navigate(body: bytes, _: CdpPolicy) -> bytes:
    value = _json(body)
    if not isinstance(value, dict):
        raise WebDriverRefused("Navigate To needs a JSON object with url")
    try:
        return json.dumps({**value, "url": check_navigable_url(value.get("url"))}).encode()
    except BlockedUrl as exc:
        raise WebDriverRefused(str(exc)) from exc


def _cdp_command(body: bytes, cdp: CdpPolicy) -> bytes:
    """chromedriver's CDP pass-through: the same policy as connectUrl."""
    value = _json(body)
    if not isinstance(value, dict) or not isinstance(value.get("cmd"), str):
        raise WebDriverRefused("a CDP command needs cmd and params")
    params = _through_cdp(cdp, value["cmd"], value.get("params", {}))
    return json.dumps({**value, "params": params}).encode()


def _through_cdp(cdp: CdpPolicy, method: str, params: Any) -> Any:
    """``params`` as the CDP policy forwards them for ``method``, or :class:`WebDriverRefused`."""
    verdict = cdp.inspect_message({"id": 1, "method": method, "params": params})
    if isinstance(verdict, Refuse):
        raise WebDriverRefused(verdict.reason)
    return json.loads(verdict.text)["params"]


def _element_value(body: bytes, cdp: CdpPolicy) -> bytes:
    """Send Keys: chromedriver turns the text into ``DOM.setFileInputFiles`` for a file input, one
    absolute path a line; a line naming an existing file outside the session's files is refused
    like that CDP command would be (text for any other field is never an existing server path).
    The session's files are sent on as that command would name them: an upload's ``/uploads/<name>``
    as the path where chromedriver, next to the browser, finds it."""
    value = _json(body)
    text = value.get("text") if isinstance(value, dict) else None
    if not isinstance(text, str):
        raise WebDriverRefused("Element Send Keys needs a text")
    lines = text.split("\n")
    files = [
        i for i, line in enumerate(lines) if line.startswith("/") and os.path.lexists(cdp.node_path(line))
    ]
    if not files:
        return body
    forwarded = _through_cdp(cdp, "DOM.setFileInputFiles", {"files": [lines[i] for i in files]})["files"]
    for i, path in zip(files, forwarded, strict=True):
        lines[i] = path
    return body if "\n".join(lines) == text else json.dumps({**value, "text": "\n".join(lines)}).encode()


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError as exc:
        raise WebDriverRefused("the command needs a JSON body") from exc


_BODY_RULES: Final[dict[str, Callable[[bytes, CdpPolicy], bytes]]] = {
    f"POST {_P}/url": _navigate,
    f"POST {_EL}/value": _element_value,
    f"POST {_P}/goog/cdp/execute": _cdp_command,
    f"POST {_P}/chromium/send_command_and_get_result": _cdp_command,
    f"POST {_P}/chromium/send_command": _cdp_command,
}
