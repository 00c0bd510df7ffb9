"""Session recordings: every page of a session recorded with rrweb, as ``SessionRecording`` events.

The recorder is rrweb's record-only bundle (npm ``@rrweb/record``, installed from
browserfleet/node/js/package-lock.json by ``make install``; the path is the
``rrweb_record_path`` setting). When the file is missing, recording is off for the whole node
(one warning at start-up), never a failed session.

For every page target the session supervisor prepares (before the page's own scripts run), the
recording adds a CDP binding on the page's session and one script for every new document: the
bundle wrapped in a private ``module`` (so it neither defines a global nor gets captured by a
page's own AMD/CommonJS loader), then a starter that records the top frame only (``about:`` pages
are skipped), buffers events and sends them through the binding every 500 ms, at 100 events, on
``pagehide``, and when the node flushes at the session's end. Every navigation starts a new
document, so each one has its own Meta (type 4) and FullSnapshot (type 2) events.

Events are kept per session in arrival order, bounded by ``max_events`` and ``max_bytes`` (the
first ones are kept: a replay needs the full snapshot); each becomes
``{data, sessionId, timestamp, type, pageId}`` (the rrweb event plus the session id and the page's
number, the same ``pageId`` as the session's logs).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from browserfleet.node.cdp import CDPConnection, CDPError
from browserfleet.node.session.log import PageIds

if TYPE_CHECKING:
    from browserfleet.node.session.supervisor import SessionSupervisor
    from browserfleet.settings import Settings

log = structlog.get_logger(__name__)
BINDING = "__browserfleetRecord"
FLUSH = "__browserfleetRecordFlush"
FLUSH_TIMEOUT_S = 3.0

_STARTER = """
;(function () {
  if (window.top !== window || location.protocol === 'about:' || window[%(flush)s]) return;
  var lib = module.exports || {};
  var record = lib.record || (lib['default'] && lib['default'].record);
  var send = window[%(binding)s];
  if (typeof record !== 'function' || typeof send !== 'function') return;
  var buffer = [];
  var flush = function () {
    if (!buffer.length) return;
    var batch = buffer; buffer = [];
    try { send(JSON.stringify(batch)); } catch (e) {}
  };
  try { delete window[%(binding)s]; } catch (e) {}
  Object.defineProperty(window, %(flush)s, { value: flush });
  record({
    emit: function (event) { buffer.push(event); if (buffer.length >= 100) flush(); },
    sampling: { mousemove: 50, scroll: 150 },
  });
  setInterval(flush, 500);
  addEventListener('pagehide', flush);
})();
"""


@dataclass(frozen=True)
class RecordingConfig:
    script: str  # the bundle plus the starter (see build_script)
    max_events: int = 50_000
    max_bytes: int = 32 * 1024 * 1024

    @classmethod
    def from_settings(cls, settings: Settings) -> RecordingConfig | None:
        """recordSession's script (rrweb bundle + starter); None when the bundle is missing (logged)."""
        script = build_script(settings.rrweb_record_path)
        if script is None:
            return None
        return cls(script, settings.session_recording_max_events, settings.session_recording_max_bytes)


def build_script(path: Path | None) -> str | None:
    """The injected script, or None (recording disabled, logged once) if the bundle is missing."""
    if path is None:
        return None
    try:
        bundle = path.read_text()
    except OSError as exc:
        log.warning(
            "session.recording_disabled",
            reason="rrweb recorder bundle not found: run `make install` or set rrweb_record_path",
            path=str(path),
            error=str(exc),
        )
        return None
    starter = _STARTER % {"binding": json.dumps(BINDING), "flush": json.dumps(FLUSH)}
    prelude = "(function () { var module = { exports: {} }; var exports = module.exports;"
    return f"{prelude}\n{bundle}\n{starter}}})();"


class SessionRecording:
    def __init__(self, session_id: str, config: RecordingConfig, pages: PageIds) -> None:
        self.session_id = session_id
        self.config = config
        self.pages = pages
        self.events: list[dict[str, Any]] = []
        self.bytes = 0
        self.dropped = 0
        self._page_of: dict[str, int] = {}  # the node's CDP session of a page → pageId

    def attach_to(self, supervisor: SessionSupervisor) -> None:
        """Hook into the supervisor before it auto-attaches (the first page is recorded too)."""
        cdp = supervisor.cdp
        cdp.on("Runtime.bindingCalled", self._on_binding)

        async def prepare(cdp_session: str, target_info: dict[str, Any]) -> None:
            await self.prepare(cdp, cdp_session, target_info)

        supervisor.prepare_hooks.append(prepare)

    async def prepare(self, cdp: CDPConnection, cdp_session: str, target_info: dict[str, Any]) -> None:
        """Install the binding and the recorder in a page that has not run yet."""
        if target_info.get("type") != "page":
            return
        self._page_of[cdp_session] = self.pages.target(str(target_info.get("targetId", cdp_session)))
        # bindings reach a page's documents only with the Runtime domain enabled on the session
        await cdp.send("Runtime.enable", session_id=cdp_session)
        await cdp.send("Runtime.addBinding", {"name": BINDING}, session_id=cdp_session)
        await cdp.send(
            "Page.addScriptToEvaluateOnNewDocument", {"source": self.config.script}, session_id=cdp_session
        )

    async def flush(self, cdp: CDPConnection) -> None:
        """Ask every page to send what it buffered (at the session's end, the browser still up)."""
        for cdp_session in list(self._page_of):
            try:
                await cdp.send(
                    "Runtime.evaluate",
                    {"expression": f"window[{json.dumps(FLUSH)}] && window[{json.dumps(FLUSH)}]()"},
                    session_id=cdp_session,
                    timeout_s=FLUSH_TIMEOUT_S,
                )
            except (CDPError, ConnectionError, TimeoutError):
                continue  # the page is gone (its pagehide flush already ran)

    def _on_binding(self, params: dict[str, Any], cdp_session: str | None) -> None:
        if params.get("name") != BINDING or cdp_session not in self._page_of:
            return
        payload = params.get("payload")
        if not isinstance(payload, str):
            return
        try:
            batch = json.loads(payload)
        except ValueError:
            return
        if not isinstance(batch, list):
            return
        page = self._page_of[cdp_session]
        for event in batch:
            if not isinstance(event, dict) or not isinstance(event.get("type"), int):
                continue
            size = len(json.dumps(event.get("data")))
            if len(self.events) >= self.config.max_events or self.bytes + size > self.config.max_bytes:
                self.dropped += 1
                continue
            self.bytes += size
            self.events.append(
                {
                    "data": event.get("data") if isinstance(event.get("data"), dict) else {},
                    "sessionId": self.session_id,
                    "timestamp": int(event.get("timestamp") or 0),
                    "type": event["type"],
                    "pageId": page,
                }
            )

    def snapshot(self) -> list[dict[str, Any]]:
        return list(self.events)

    def to_json(self) -> bytes:
        return json.dumps(self.events, separators=(",", ":")).encode()
