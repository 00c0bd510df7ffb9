"""Captcha detection in a page and all its frames (solving arrives with a solver, later).

Detection is markup-based: widget containers with a ``data-sitekey``, the widgets' iframes, and the
reCAPTCHA v3 loader script (``api.js?render=<sitekey>``).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from importlib import resources

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page

_DETECT = (resources.files("browserfleet.node") / "js" / "detect_captcha.js").read_text()


@dataclass(frozen=True)
class Detection:
    type: str  # recaptcha_v2 | recaptcha_v3 | hcaptcha | turnstile
    sitekey: str | None


async def detect(page: Page) -> Detection | None:
    """The first captcha found in the main frame, then in child frames."""
    for frame in page.frames:
        with contextlib.suppress(PlaywrightError):
            found = await frame.evaluate(_DETECT)
            if found:
                return Detection(type=str(found["type"]), sitekey=found.get("sitekey"))
    return None
