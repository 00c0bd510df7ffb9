"""What a session's browser says about itself for each ``browserSettings.os``.

One :class:`DeviceProfile` per contract value (windows, mac, linux, mobile, tablet): the user agent
(the reduced form real Chrome sends, ``Chrome/<major>.0.0.0``, never ``HeadlessChrome``),
``navigator.platform`` and the User-Agent Client Hints (``Sec-CH-UA-*`` headers and
``navigator.userAgentData``), all derived from the version of the Chromium binary actually running,
so the story stays consistent when Chromium is upgraded.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

DEFAULT_OS = "linux"
FALLBACK_VERSION = "156.0.0.0"
_VERSION = re.compile(r"(\d+)\.(\d+)\.(\d+)\.(\d+)")


@dataclass(frozen=True)
class DeviceProfile:
    os: str
    ua_platform: str  # the part in parentheses of the user agent
    navigator_platform: str
    hints_platform: str  # Sec-CH-UA-Platform
    hints_platform_version: str
    architecture: str
    mobile: bool
    model: str = ""
    touch_points: int = 0

    def user_agent(self, version: str) -> str:
        major = version.split(".", 1)[0]
        mobile = " Mobile" if self.mobile else ""
        return (
            f"Mozilla/5.0 ({self.ua_platform}) AppleWebKit/537.36 (KHTML, like Gecko) "
            f"Chrome/{major}.0.0.0{mobile} Safari/537.36"
        )

    def user_agent_override(self, version: str) -> dict[str, Any]:
        """Parameters of CDP ``Emulation.setUserAgentOverride`` for this profile."""
        major = version.split(".", 1)[0]
        brands = [
            {"brand": "Chromium", "version": major},
            {"brand": "Google Chrome", "version": major},
            {"brand": "Not-A.Brand", "version": "24"},
        ]
        full = [
            {"brand": "Chromium", "version": version},
            {"brand": "Google Chrome", "version": version},
            {"brand": "Not-A.Brand", "version": "24.0.0.0"},
        ]
        return {
            "userAgent": self.user_agent(version),
            "platform": self.navigator_platform,
            "userAgentMetadata": {
                "brands": brands,
                "fullVersionList": full,
                "platform": self.hints_platform,
                "platformVersion": self.hints_platform_version,
                "architecture": self.architecture,
                "model": self.model,
                "mobile": self.mobile,
                "bitness": "64",
                "wow64": False,
            },
        }


PROFILES: dict[str, DeviceProfile] = {
    "windows": DeviceProfile(
        "windows", "Windows NT 10.0; Win64; x64", "Win32", "Windows", "15.0.0", "x86", mobile=False
    ),
    "mac": DeviceProfile(
        "mac", "Macintosh; Intel Mac OS X 10_15_7", "MacIntel", "macOS", "14.5.0", "x86", mobile=False
    ),
    "linux": DeviceProfile(
        "linux", "X11; Linux x86_64", "Linux x86_64", "Linux", "6.1.0", "x86", mobile=False
    ),
    "mobile": DeviceProfile(
        "mobile", "Linux; Android 10; K", "Linux armv81", "Android", "14.0.0", "arm", True, "K", 5
    ),
    "tablet": DeviceProfile(
        "tablet", "Linux; Android 10; K", "Linux armv81", "Android", "14.0.0", "arm", False, "K", 10
    ),
}


def profile_for(os_name: str | None) -> DeviceProfile:
    return PROFILES[os_name or DEFAULT_OS]


@cache
def browser_version(binary: Path) -> str:
    """``156.0.8078.79`` from ``<binary> --version`` (once per binary), or a fallback."""
    try:
        out = subprocess.run(
            [str(binary), "--version"], capture_output=True, text=True, timeout=20, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return FALLBACK_VERSION
    match = _VERSION.search(out)
    return match.group(0) if match else FALLBACK_VERSION
