"""Whether this node can contain its browsers, decided once at start: :class:`Containment`.

Containment needs: the node running as root (it starts each browser's sandbox and reaches into
the sandbox's network namespace), bubblewrap, the browser user, and a kernel that lets bwrap
create its namespaces (checked by running a trial sandbox). Chromium's own sandbox additionally
needs unprivileged user namespaces, checked inside the trial sandbox as the browser user.

The ``browser_containment`` setting says what to do when the host cannot: ``required`` (default)
refuses to start, ``auto`` runs the browsers uncontained and says so (log at start, ``/health``),
``off`` never contains them.
"""

from __future__ import annotations

import functools
import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import structlog

from browserfleet.core.errors import Misconfigured
from browserfleet.node.sandbox.jail import SETPRIV, Folders, command
from browserfleet.node.sandbox.user import BrowserUser

__all__ = ["SANDBOX_OFF_FLAGS", "Containment", "ContainmentSetting", "decide", "probe"]

log = structlog.get_logger(__name__)
ContainmentSetting = Literal["required", "auto", "off"]
# Chromium flags that only make sense without its own sandbox (it refuses --no-zygote with it)
SANDBOX_OFF_FLAGS = frozenset({"--no-sandbox", "--no-zygote"})
NO_UNSANDBOXED_ZYGOTE = "--no-unsandboxed-zygote"
TRIAL_TIMEOUT_S = 15.0
UNSHARE = "/usr/bin/unshare"
HOW_TO_OPT_OUT = (
    "set BROWSERFLEET_BROWSER_CONTAINMENT=auto (contain when possible) or off to run browsers uncontained"
)


@dataclass(frozen=True)
class Containment:
    """How this node's browsers run. ``active``: each in its own sandbox as ``user``."""

    setting: ContainmentSetting
    bwrap: Path
    user: BrowserUser | None = None
    chromium_sandbox: bool = False
    reason: str | None = None  # why browsers run uncontained

    @property
    def active(self) -> bool:
        return self.user is not None and self.reason is None

    def chromium_flags(self, flags: Sequence[str]) -> list[str]:
        """``flags`` for this node's browsers: Chromium's sandbox on whenever it works here. Its
        sandbox needs a zygote, so ``--no-zygote`` (a memory saving) becomes the saving still
        possible: no *unsandboxed* zygote (-13 MB PSS for one idle session, measured)."""
        if not (self.active and self.chromium_sandbox):
            return list(flags)
        kept = [flag for flag in flags if flag not in SANDBOX_OFF_FLAGS]
        if "--no-zygote" in flags and NO_UNSANDBOXED_ZYGOTE not in kept:
            kept.append(NO_UNSANDBOXED_ZYGOTE)
        return kept

    def report(self) -> dict[str, object]:
        """What ``/health`` and the start-up log say."""
        if not self.active:
            return {"active": False, "setting": self.setting, "reason": self.reason}
        assert self.user is not None
        return {
            "active": True,
            "setting": self.setting,
            "user": self.user.name,
            "chromiumSandbox": self.chromium_sandbox,
            "network": "own namespace: egress channel only",
            "filesystem": "own folders only",
        }


def decide(setting: ContainmentSetting, bwrap: Path, user_name: str) -> Containment:
    """This node's containment; :class:`Misconfigured` when ``required`` and the host cannot."""
    if setting == "off":
        found = Containment(setting, bwrap, reason="turned off (browser_containment=off)")
    else:
        user, chromium_sandbox, reason = probe(bwrap, user_name)
        found = Containment(setting, bwrap, user, chromium_sandbox, reason)
        if reason is not None and setting == "required":
            raise Misconfigured(f"browsers cannot be contained on this host: {reason}; {HOW_TO_OPT_OUT}")
    if found.active:
        log.info("browser.containment", **found.report())
    else:
        log.warning("browser.containment", **found.report())
    return found


@functools.lru_cache(maxsize=8)
def probe(bwrap: Path, user_name: str) -> tuple[BrowserUser | None, bool, str | None]:
    """``(user, chromium sandbox works, reason it cannot contain)`` for this host (cached)."""
    if os.geteuid() != 0:
        why = f"the node runs as uid {os.geteuid()}, not root: it cannot start browsers as {user_name}"
        return None, False, why
    for tool in (bwrap, Path(SETPRIV)):
        if not os.access(tool, os.X_OK):
            return None, False, f"{tool} not found (make install; Debian: apt-get install bubblewrap)"
    user = BrowserUser.lookup(user_name)
    if user is None:
        return None, False, f"no user {user_name} (make install creates it as root)"
    if user.uid == 0:
        return None, False, f"the browser user {user_name} is root"
    failed = _trial(bwrap, user, ["/bin/true"])
    if failed:
        return None, False, f"bubblewrap cannot create a sandbox here: {failed}"
    return user, not _trial(bwrap, user, [UNSHARE, "--user", "/bin/true"]), None


def _trial(bwrap: Path, user: BrowserUser, argv: list[str]) -> str | None:
    """Run ``argv`` in a sandbox as ``user``; None if it worked, else what went wrong."""
    try:
        done = subprocess.run(
            command(bwrap, user, Folders(), argv),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=TRIAL_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    if done.returncode != 0:
        return done.stderr.decode(errors="replace").strip()[-300:] or f"exit status {done.returncode}"
    return None
