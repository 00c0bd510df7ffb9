"""One typed settings object, read from the environment (prefix ``BROWSERFLEET_``) and CLI flags.

Built by :func:`load_settings` at start-up and passed down; nothing reads the environment at
import time. See docs/configuration.md for the reference table (keep it in step with this file).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from browserfleet.core.errors import Misconfigured

CHROMIUM_FLAGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
    "--password-store=basic",
)

# A session has a browser of its own, so its helpers need not be separate processes: no zygotes,
# the GPU thread and the network service inside the browser process (46 vs 65 MB PSS per idle
# session, bench/session_startup.py).
SESSION_FLAGS = ("--no-zygote", "--in-process-gpu", "--enable-features=NetworkServiceInProcess2")


class LocalNode(BaseModel):
    """An extra node run by this process (embedded mode): its own labels and slots, the process's
    browser pool, egress proxy and executors (renders, automation runs, browsing tasks)."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, max_length=100)
    country: str | None = Field(default=None, min_length=2, max_length=2)
    city: str | None = None
    region: str | None = None
    slots: int = Field(default=2, ge=1, le=64)

    @field_validator("country")
    @classmethod
    def _upper(cls, value: str | None) -> str | None:
        return value.upper() if value else value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BROWSERFLEET_", extra="ignore")

    # --- server -------------------------------------------------------------------------------
    host: str = "127.0.0.1"
    port: int = Field(default=8700, ge=0, le=65535)
    data_dir: Path = Path("./data")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy async URL; default: SQLite (WAL) under data_dir"
    )
    public_url: str | None = Field(default=None, description="URL clients use to reach this server")
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="without public_url: Host header values (host or host:port) kept in the URLs handed "
        "to clients (connectUrl, live, upload and file URLs); any other Host gets the address the "
        "request arrived on, never its own",
    )
    max_body_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        description="largest request body (413, checked before authentication); the upload routes "
        "have their own: extension_max_bytes, context_max_bytes, session_upload_max_bytes",
    )
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["console", "json"] = "console"

    # --- accounts -----------------------------------------------------------------------------
    new_project_free_cents: int = Field(default=100_000, ge=0)
    default_concurrency: int = Field(default=10, ge=1)
    default_job_timeout_s: int = Field(default=120, ge=1)

    # --- node ---------------------------------------------------------------------------------
    node_id: str = "local-1"
    node_region: str = "local"
    node_region_name: str = "Local"
    node_country: str | None = None
    node_city: str | None = None
    node_slots: int = Field(default=4, ge=1, le=256, description="jobs a node runs at once")
    browsers: int = Field(default=1, ge=1, le=32, description="warm Chromium processes per node")
    browser_recycle_after: int = Field(default=200, ge=1, description="contexts before a restart")
    headless_shell_path: Path = Path("/usr/lib/chromium/chromium-headless-shell")
    chromium_path: Path = Path("/usr/bin/chromium")
    max_attempts: int = Field(default=2, ge=1, le=5, description="attempts when a browser crashes")
    browser_containment: Literal["required", "auto", "off"] = Field(
        default="required",
        description="each browser in a sandbox of its own as browser_user (docs/security.md): required "
        "refuses to start a node on a host that cannot (not root, no bubblewrap, no namespaces); auto "
        "contains when the host can, else runs browsers uncontained (logged, /health); off never",
    )
    browser_user: str = Field(
        default="browserfleet-browser", description="unprivileged system user browsers run as (make install)"
    )
    bwrap_path: Path = Field(default=Path("/usr/bin/bwrap"), description="bubblewrap (Debian bubblewrap)")

    # --- egress -------------------------------------------------------------------------------
    allow_private_networks: bool = False
    egress_allow: list[str] = Field(
        default_factory=list, description="CIDRs reachable even though private (e.g. 10.1.0.0/16)"
    )

    # --- geo proxies (upstream exits per place) -----------------------------------------------
    proxies: list[dict[str, Any]] = Field(
        default_factory=list,
        description="upstream proxies: [{url, country, city?, sticky?}] (see docs/proxies.md)",
    )
    proxy_file: Path | None = Field(default=None, description="YAML file declaring upstream proxies")
    require_geo_proxy: bool = False
    proxy_failures_before_cooldown: int = Field(default=3, ge=1)
    proxy_cooldown_s: float = Field(default=60.0, gt=0)

    # --- captcha solving ----------------------------------------------------------------------
    captcha_solver_url: str | None = Field(
        default=None, description="createTask/getTaskResult API base URL (2Captcha, CapSolver, Anti-Captcha…)"
    )
    captcha_solver_key: str | None = Field(default=None, description="the solver's client key (never logged)")
    captcha_timeout_s: float = Field(default=120.0, gt=0)
    captcha_poll_interval_s: float = Field(default=3.0, gt=0)

    # --- sessions (live browsers driven over CDP) ---------------------------------------------
    session_slots: int = Field(
        default=4, ge=0, le=256, description="live sessions a node runs at once (own slots, not node_slots)"
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
        default=30.0, gt=0, description="how long create waits for a node to start the browser (else 503)"
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
    secret_key: str | None = Field(
        default=None,
        description="master key of encryption at rest (saved contexts); must be the same on every "
        "process in distributed mode; unset: generated once into <data_dir>/secret.key",
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
        default=Path(__file__).parent / "node/js/node_modules/@rrweb/record/dist/record.umd.min.cjs",
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

    # --- automations (tasks and runs) ---------------------------------------------------------
    automation_default_quota: int = Field(
        default=36_000, ge=0, description="runs per month of a project without a quota of its own"
    )
    automation_rate_limit: int = Field(default=30, ge=1, description="requests per key per window (429)")
    automation_rate_window_s: float = Field(default=10.0, gt=0)
    automation_run_timeout_s: float = Field(default=300.0, gt=0, description="a whole run, every step")
    automation_file_retention_days: float = Field(
        default=30.0, gt=0, description="how long a run's files and video are kept"
    )
    automation_file_url_ttl_s: int = Field(
        default=86400,
        ge=1,
        description="a run's signed file URLs work at least this long after they are handed out (at "
        "most twice as long), and never once the run or its task is deleted",
    )
    ffmpeg_path: Path = Field(
        default=Path("/usr/bin/ffmpeg"),
        description="ffmpeg (Debian package) that encodes run videos and session recording downloads",
    )
    webhook_timeout_s: float = Field(
        default=10.0, gt=0, description="one webhook attempt (connect to answer)"
    )
    webhook_max_attempts: int = Field(default=6, ge=1, le=20, description="attempts per run's webhook")
    webhook_backoff_s: float = Field(
        default=2.0, gt=0, description="delay before the 2nd webhook attempt; doubles each time after"
    )

    # --- web search (POST /v1/search; see browserfleet/core/sessions/search/) -----------------
    search_backend: Literal["searxng", "exa"] | None = Field(
        default=None, description="web search backend; unset: POST /v1/search answers 503"
    )
    searxng_url: str | None = Field(default=None, description="SearXNG base URL (JSON format enabled)")
    exa_api_key: SecretStr | None = Field(default=None, description="Exa API key (never logged)")
    exa_base_url: str = "https://api.exa.ai"
    search_timeout_s: float = Field(default=10.0, gt=0, description="one call to the search backend")

    # --- browsing tasks: the agent's model (see docs/browsing.md) -----------------------------
    llm_base_url: str | None = Field(
        default=None,
        description="OpenAI-compatible chat-completions base URL, e.g. https://api.openai.com/v1",
    )
    llm_api_key: SecretStr | None = Field(default=None, description="the model provider's key (never logged)")
    llm_model: str | None = Field(default=None, description="model name (a template may name another)")
    llm_timeout_s: float = Field(default=120.0, gt=0, description="one chat completion")
    llm_vision: bool = Field(default=False, description="the model accepts images (screenshots)")
    llm_tool_choice: Literal["required", "auto"] = Field(
        default="required", description="tool_choice sent with each step (auto: for servers without required)"
    )
    browsing_templates_dir: Path | None = Field(
        default=None, description="folder of browsing templates (<stem>.yaml/.yml/.json), read at start"
    )
    browsing_default_timeout_s: float = Field(
        default=600.0, gt=0, le=10_800, description="a task's timeout when the request has none"
    )
    browsing_sync_wait_s: float = Field(
        default=600.0, gt=0, description="POST /api/v1/browsing/sync: longest wait (then 504)"
    )
    browsing_session_idle_s: float = Field(
        default=300.0, gt=0, description="a session_key's browser is closed after this long unused"
    )
    browsing_screenshot_days: float = Field(
        default=5.0, gt=0, le=5, description="how long a task's screenshots are kept"
    )
    local_nodes: list[LocalNode] = Field(
        default_factory=list,
        description="extra nodes in this process, JSON list of {id, country?, city?, region?, slots?}",
    )

    # --- distributed mode: control planes and nodes on Redis + PostgreSQL (docs/distributed.md)
    redis_url: str | None = Field(
        default=None, description="Redis URL (redis://host:6379/0); set: distributed mode"
    )
    redis_prefix: str = Field(
        default="bf", pattern=r"^[A-Za-z0-9_.-]+$", description="prefix of every Redis key of this fleet"
    )
    node_ttl_s: float = Field(
        default=15.0, ge=0.5, le=600, description="a node silent this long is gone; its jobs run elsewhere"
    )
    node_secret: SecretStr | None = Field(
        default=None, description="shared secret of control plane → node requests; same on every process"
    )
    advertise_url: str | None = Field(
        default=None, description="where the control plane reaches this node (default http://host:port)"
    )
    blob_backend: Literal["auto", "files", "database"] = Field(
        default="auto", description="auto: database when distributed, else files under data_dir"
    )
    admin_key: SecretStr | None = Field(
        default=None, description="bearer key of the admin API (GET /v1/nodes); unset: it answers 403"
    )

    # --- renders ------------------------------------------------------------------------------
    render_timeout_s: float = Field(default=120.0, gt=0)
    render_navigation_timeout_s: float = Field(default=60.0, gt=0)
    api_retention_hours: float = Field(default=24.0, gt=0)
    debug_retention_days: float = Field(default=7.0, gt=0)
    retention_days: float = Field(default=365.0, gt=0)
    purge_interval_s: float = Field(default=3600.0, gt=0)

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if self.retention_days * 24 < self.api_retention_hours:
            raise ValueError("retention_days must cover api_retention_hours")
        if self.debug_retention_days > self.retention_days:
            raise ValueError("debug_retention_days cannot exceed retention_days")
        return self

    @model_validator(mode="after")
    def _check_local_nodes(self) -> Settings:
        ids = [self.node_id, *(n.id for n in self.local_nodes)]
        if len(set(ids)) != len(ids):
            raise ValueError("local_nodes ids must be unique and differ from node_id")
        return self

    @model_validator(mode="after")
    def _check_distributed(self) -> Settings:
        if not self.redis_url:
            return self
        if not self.database_url or self.database_url.startswith("sqlite"):
            raise ValueError("distributed mode (redis_url) needs a shared database_url (PostgreSQL)")
        if not (self.node_secret and self.node_secret.get_secret_value()):
            raise ValueError("distributed mode (redis_url) needs node_secret (BROWSERFLEET_NODE_SECRET)")
        if not self.secret_key:
            raise ValueError("distributed mode (redis_url) needs the same secret_key on every process")
        return self

    @property
    def distributed(self) -> bool:
        return bool(self.redis_url)

    @property
    def advertised_url(self) -> str:
        return self.advertise_url or f"http://{self.host}:{self.port}"

    @model_validator(mode="after")
    def _check_search(self) -> Settings:
        if self.search_backend == "searxng" and not self.searxng_url:
            raise ValueError("search_backend=searxng needs searxng_url (BROWSERFLEET_SEARXNG_URL)")
        if self.search_backend == "exa" and not (self.exa_api_key and self.exa_api_key.get_secret_value()):
            raise ValueError("search_backend=exa needs exa_api_key (BROWSERFLEET_EXA_API_KEY)")
        return self

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'browserfleet.db').resolve()}"

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def base_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"


def load_settings(**overrides: Any) -> Settings:
    """Environment first, then explicit overrides (CLI flags); ``None`` overrides are ignored."""
    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        settings = Settings(**given)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}" for e in exc.errors()
        )
        raise Misconfigured(f"invalid settings (BROWSERFLEET_*): {problems}") from exc
    # private to the server's user when created here (an existing one is checked at start:
    # store/private.py); browsers never see it either way (node/sandbox/)
    os.makedirs(settings.data_dir, mode=0o700, exist_ok=True)
    return settings
