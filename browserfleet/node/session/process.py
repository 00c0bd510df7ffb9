"""A session's browser process: its command line, its DevTools endpoint, its end.

The executor (node/session/executor.py) starts the process through the node's launcher
(node/sandbox/); these helpers build its arguments, read the DevTools port Chromium writes once
its debug server listens, and stop its whole process group when the session ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Sequence
from pathlib import Path

from browserfleet.core.errors import ErrorCode, JobFailure
from browserfleet.core.sessions import SessionSpec
from browserfleet.node.cdp import devtools_port
from browserfleet.node.device_profiles import profile_for

DEFAULT_VIEWPORT = (1280, 720)
LAUNCH_TIMEOUT_S = 20.0


def viewport(spec: SessionSpec) -> tuple[int, int]:
    width, height = DEFAULT_VIEWPORT
    if spec.viewport:
        width = int(spec.viewport.get("width") or width)
        height = int(spec.viewport.get("height") or height)
    return width, height


def browser_args(flags: Sequence[str], spec: SessionSpec, version: str, user_data: Path) -> list[str]:
    """The browser's arguments after its binary (and an extension's flags)."""
    width, height = viewport(spec)
    args = [
        *flags,
        f"--user-data-dir={user_data}",
        f"--window-size={width},{height}",
    ]
    args.append(f"--user-agent={profile_for(spec.os).user_agent(version)}")
    if spec.browser_settings.get("ignoreCertificateErrors"):
        args.append("--ignore-certificate-errors")
    args.append("about:blank")
    return args


async def devtools_endpoint(user_data: Path, process: asyncio.subprocess.Process) -> tuple[int, str]:
    """Port and browser path from ``DevToolsActivePort`` (written once the debug server listens)."""
    deadline = time.monotonic() + LAUNCH_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.returncode is not None:
            raise JobFailure(ErrorCode.BROWSER_CRASHED, "The session's browser exited during start-up")
        if (endpoint := devtools_port(user_data)) is not None:
            return endpoint
        await asyncio.sleep(0.02)
    raise JobFailure(ErrorCode.BROWSER_CRASHED, "The session's browser did not start in time")


async def kill(process: asyncio.subprocess.Process) -> None:
    """SIGTERM the browser's process group, SIGKILL it if it lingers; reap it."""
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            _signal_group(process.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(asyncio.shield(process.wait()), 5.0)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                _signal_group(process.pid, signal.SIGKILL)
            await process.wait()
    with contextlib.suppress(ProcessLookupError):  # helpers (renderers, zygote) of the group
        _signal_group(process.pid, signal.SIGKILL)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    os.killpg(pid, sig)
