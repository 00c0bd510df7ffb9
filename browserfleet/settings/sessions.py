"""Session settings: live browsers driven over CDP and WebDriver, and what they carry along
(fetches, contexts, extensions, logs, files, recordings, the live viewer)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from browserfleet.settings.browsers import SESSION_FLAGS


class SessionMixin(BaseModel):
    session_slots: int | None = Field(
        default=None,
        ge=0,
        le=2000,
        description="live sessions a node runs at once (own slots, not node_slots); unset: as many as "
        "its memory holds (measured), 0: none",
    )
    session_queue_wait_s: float = Field(
        default=1.0,
        ge=0,
        le=30,
        description="how long create waits for a node with room before answering 429 (Retry-After)",
    )
    session_grace_s: float = Field(
        default=10.0,
        gt=0,
        description="a session without keepAlive ends this long after its last client left",
    )
    session_min_timeout_s: int = Field(
        default=60, ge=1, le=21600, description="smallest session timeout the API accepts (testing knob)"
    )
    session_start_timeout_s: float = Field(
        default=30.0,
        gt=0,
        description="how long create waits for the node that took the session to start its browser",
    )
    fetch_timeout_s: float = Field(
        default=30.0, gt=0, description="POST /v1/fetch: whole-fetch timeout (504)"
    )
    fetch_max_bytes: int = Field(
        default=10 * 1024 * 1024, ge=1, description="POST /v1/fetch: largest response body (else 502)"
    )
    fetch_slots: int = Field(
        default=8, ge=1, le=256, description="fetches a node runs at once (own slots, not node_slots)"
    )
    ad_block_hosts_file: Path | None = Field(
        default=None,
        description="extra ad/tracker domains for sessions with blockAds (hosts format or one per line)",
    )
    protocol_firewall: bool = Field(
        default=True,
        description="test-only switch: False passes client CDP and WebDriver messages through unchecked, "
        "so tests can show the OS containment holding on its own (docs/security.md)",
    )
    session_chromium_flags: list[str] = Field(
        default_factory=lambda: list(SESSION_FLAGS),
        description="extra Chromium flags of session browsers (JSON list), on top of the base flags",
    )
    context_max_bytes: int = Field(
        default=512 * 1024 * 1024, ge=1024, description="largest context upload and unpacked profile (413)"
    )
    context_upload_ttl_s: float = Field(
        default=3600.0, gt=0, description="how long a context's uploadUrl token stays valid"
    )
    extension_max_bytes: int = Field(
        default=64 * 1024 * 1024,
        ge=1024,
        description="POST /v1/extensions: largest zip, and largest extension once unpacked (413)",
    )
    extension_max_files: int = Field(
        default=5000, ge=1, description="POST /v1/extensions: most members (files and folders) a zip may hold"
    )
    chromedriver_path: Path = Field(
        default=Path("/usr/bin/chromedriver"),
        description="chromedriver (Debian chromium-driver) behind seleniumRemoteUrl, one per session",
    )
    session_log_max_records: int = Field(
        default=5000, ge=0, description="logSession: CDP commands kept per session (the first ones)"
    )
    session_log_max_bytes: int = Field(
        default=8 * 1024 * 1024, ge=0, description="logSession: about this many bytes of log per session"
    )
    session_log_max_body_bytes: int = Field(
        default=16 * 1024, ge=256, description="logSession: a larger message keeps a truncated rawBody only"
    )
    session_files_dir: Path | None = Field(
        default=None,
        description="per-session downloads/ and uploads/ folders (<dir>/<session id>/); "
        "unset: <data_dir>/session-files",
    )
    session_downloads_max_bytes: int = Field(
        default=500 * 1024 * 1024, ge=0, description="downloads kept per session; beyond: cancelled"
    )
    session_upload_max_bytes: int = Field(
        default=100 * 1024 * 1024, ge=1, description="POST /v1/sessions/{id}/uploads: largest file (413)"
    )
    rrweb_record_path: Path | None = Field(
        default=Path(__file__).parents[1] / "node/js/node_modules/@rrweb/record/dist/record.umd.min.cjs",
        description="recordSession: rrweb's record bundle (from make install); missing: no recordings",
    )
    session_recording_max_events: int = Field(
        default=50_000, ge=0, description="recordSession: rrweb events kept per session (the first ones)"
    )
    session_recording_max_bytes: int = Field(
        default=32 * 1024 * 1024,
        ge=0,
        description="recordSession: about this many bytes of events per session",
    )
    session_video_max_bytes: int = Field(
        default=100 * 1024 * 1024,
        ge=0,
        description="recordSession: screencast frames kept per session for the video downloads",
    )
    session_video_url_ttl_s: float = Field(
        default=3600.0, gt=0, description="how long a recording download's signed downloadUrl works"
    )
    session_video_encoders: int = Field(
        default=1, ge=1, description="recording downloads encoded at once by this process (ffmpeg)"
    )
    live_view_format: Literal["jpeg", "png"] = Field(
        default="jpeg", description="live viewer (debuggerFullscreenUrl): screencast image format"
    )
    live_view_quality: int = Field(default=60, ge=1, le=100, description="live viewer: JPEG quality")
    live_view_max_width: int = Field(
        default=1920, ge=16, le=7680, description="live viewer: frames are scaled down to fit this width"
    )
    live_view_max_height: int = Field(
        default=1080, ge=16, le=4320, description="live viewer: frames are scaled down to fit this height"
    )
