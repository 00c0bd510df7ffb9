"""Captcha detection in a page and all its frames.

Detection is markup-based: widget containers with a ``data-sitekey``, the widgets' iframes, and the
reCAPTCHA v3 loader script (``api.js?render=<sitekey>``). Each detection keeps the frame it was
found in, so the token can be injected there.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from importlib import resources

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Frame, Page

DETECT_JS = (resources.files("browserfleet.node.captcha") / "js" / "detect.js").read_text()

KINDS = ("recaptcha_v2", "recaptcha_v3", "hcaptcha", "turnstile")


@dataclass(frozen=True)
class Detection:
    type: str  # recaptcha_v2 | recaptcha_v3 | hcaptcha | turnstile
    sitekey: str | None
    action: str | None = None  # the widget's data-action, when it has one
    frame: Frame | None = field(default=None, compare=False, repr=False)


async def detect_all(page: Page) -> list[Detection]:
    """Every captcha found, main frame first, then child frames (each frame's widgets in order)."""
    found: list[Detection] = []
    for frame in page.frames:
        with contextlib.suppress(PlaywrightError):  # a frame may detach meanwhile
            for item in await frame.evaluate(DETECT_JS) or []:
                found.append(Detection(str(item["type"]), item.get("sitekey"), item.get("action"), frame))
    return found


async def detect(page: Page) -> Detection | None:
    """The first captcha found in the main frame, then in child frames."""
    found = await detect_all(page)
    return found[0] if found else None
