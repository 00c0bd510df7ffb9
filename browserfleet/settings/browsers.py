"""Browser settings: the Chromium flags every browser gets, the warm pool of a node, and the OS
containment browsers run in (docs/security.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

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

# The pool's browsers (renders, automation runs, agent tasks) share one process per browser for
# their network service: a request no longer crosses a process boundary (about 4% less Chromium CPU
# per render of the benchmark page, bench/render_throughput.py). A crash of it takes the browser
# down, which the pool already survives (a dead browser is replaced, its jobs retried).
POOL_FLAGS = ("--enable-features=NetworkServiceInProcess2",)

# A session has a browser of its own, so its helpers need not be separate processes: no zygotes,
# the GPU thread and the network service inside the browser process (46 vs 65 MB PSS per idle
# session, bench/session_startup.py).
SESSION_FLAGS = ("--no-zygote", "--in-process-gpu", "--enable-features=NetworkServiceInProcess2")


class BrowserMixin(BaseModel):
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
