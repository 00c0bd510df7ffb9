"""What a live session leaves behind: its log (``logSession``) and its recording (``recordSession``:
rrweb events, and the screencast frames the recording downloads are made from).

They are opened with the browser (sharing page ids), hooked into the supervisor before its first
page, and at the end stored as the session's blobs; the node-local router
(node/session/routes/history.py) serves them from the live session while it runs, from these blobs
once it ended.
"""

from __future__ import annotations

from collections.abc import Callable

from browserfleet.core.sessions import SessionSpec
from browserfleet.core.sessions.history import LOG_BLOB, RECORDING_BLOB
from browserfleet.node.session.live import LiveSession
from browserfleet.node.session.log import LogLimits, PageIds, SessionLog
from browserfleet.node.session.process import viewport
from browserfleet.node.session.recording import RecordingConfig, SessionRecording
from browserfleet.node.session.screencast import ScreencastConfig, SessionScreencast
from browserfleet.node.session.supervisor import SessionSupervisor


def open_history(
    session_id: str,
    spec: SessionSpec,
    ws_url: str,
    *,
    log_limits: LogLimits | None,
    recording: RecordingConfig | None,
    screencast: ScreencastConfig | None,
) -> tuple[SessionLog | None, SessionRecording | None, SessionScreencast | None]:
    """The session's log, recording and screencast, each when the session asks for it and the node
    has it (None otherwise)."""
    pages = PageIds()
    session_log = session_recording = session_screencast = None
    if log_limits is not None and spec.browser_settings.get("logSession", True):
        session_log = SessionLog(session_id, pages=pages, limits=log_limits)
    if spec.browser_settings.get("recordSession", True):
        if recording is not None:
            session_recording = SessionRecording(session_id, recording, pages)
        if screencast is not None:
            width, height = viewport(spec)
            session_screencast = SessionScreencast(
                session_id, screencast, pages, browser_ws_url=ws_url, width=width, height=height
            )
    return session_log, session_recording, session_screencast


def before_attach(
    recording: SessionRecording | None, screencast: SessionScreencast | None
) -> Callable[[SessionSupervisor], None] | None:
    """What hooks into the supervisor before its first page (rrweb, screencast), or None."""
    hooks: list[Callable[[SessionSupervisor], None]] = []
    if recording is not None:
        hooks.append(recording.attach_to)
    if screencast is not None:
        hooks.append(screencast.attach_to)
    if not hooks:
        return None

    def attach(supervisor: SessionSupervisor) -> None:
        for hook in hooks:
            hook(supervisor)

    return attach


def history_blobs(live: LiveSession | None) -> dict[str, bytes]:
    """What outlives the session: its log and recording, served from blobs once it ended."""
    blobs: dict[str, bytes] = {}
    if live is not None and live.log is not None:
        blobs[LOG_BLOB] = live.log.to_json()
    if live is not None and live.recording is not None:
        blobs[RECORDING_BLOB] = live.recording.to_json()
    return blobs
