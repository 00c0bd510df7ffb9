"""The Puppeteer clients of tests/js, run with ``node`` (``make install`` puts ``puppeteer-core``
in tests/js/node_modules). Each script attaches to a session's ``connectUrl`` and prints one JSON
line last: its result, or ``{"error": …}`` with exit code 1 (tests/js/session_client.mjs).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

JS_DIR = Path(__file__).resolve().parents[1] / "js"


def run_script(script: str, *args: str, exit_code: int = 0) -> dict[str, Any]:
    """``node tests/js/SCRIPT ARGS``: the JSON it printed last, once it exited with ``exit_code``."""
    node = shutil.which("node")
    assert node is not None, "node is not installed (make install)"
    assert (JS_DIR / "node_modules" / "puppeteer-core").is_dir(), "puppeteer-core missing: run make install"
    done = subprocess.run(
        [node, str(JS_DIR / script), *args],
        cwd=JS_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == exit_code, f"stdout={done.stdout!r} stderr={done.stderr!r}"
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result
