"""The captcha phase shared by renders and the ``solve_captcha`` step: detect, solve, inject.

Modes: ``auto`` solves the first captcha found; a type (``recaptcha_v2``, ``recaptcha_v3``,
``hcaptcha``, ``turnstile``) solves only a captcha of that type; another type found is reported
but not solved. Without a solver (or without a sitekey to solve for) the captcha is reported,
``handled`` false. Solver failures raise the solver's errors (``CAPTCHA_*`` error codes).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import structlog
from playwright.async_api import Page

from browserfleet.node.captcha.detect import Detection, detect_all
from browserfleet.node.captcha.inject import inject
from browserfleet.node.captcha.solver import CaptchaSolver, CaptchaTask

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class CaptchaOutcome:
    detection: Detection | None
    handled: bool = False

    def report(self) -> dict[str, Any]:
        """The wire ``captcha`` object: ``{detected, handled, sitekey?, type?}``."""
        found = self.detection
        info: dict[str, Any] = {"detected": found is not None, "handled": self.handled}
        if found and found.sitekey:
            info["sitekey"] = found.sitekey
        if found:
            info["type"] = found.type
        return info


def choose(found: list[Detection], mode: str) -> tuple[Detection | None, bool]:
    """The detection to report and whether the mode allows solving it."""
    if not found:
        return None, False
    if mode == "auto":
        return found[0], True
    wanted = next((d for d in found if d.type == mode), None)
    return (wanted, True) if wanted else (found[0], False)


async def handle(
    page: Page, mode: str, solver: CaptchaSolver | None, *, timeout_s: float | None = None
) -> CaptchaOutcome:
    if mode == "disabled":
        return CaptchaOutcome(None)
    detection, solvable = choose(await detect_all(page), mode)
    if detection is None or not solvable or not detection.sitekey:
        return CaptchaOutcome(detection)
    if solver is None:
        log.info("captcha.not_solved", reason="no solver configured", kind=detection.type)
        return CaptchaOutcome(detection)
    frame = detection.frame or page.main_frame
    task = CaptchaTask(detection.type, frame.url, detection.sitekey, page_action=detection.action)
    started = time.monotonic()
    token = await solver.solve(task, timeout_s=timeout_s)
    handled = await inject(page, detection, token)
    log.info(
        "captcha.handled", kind=detection.type, handled=handled, ms=round((time.monotonic() - started) * 1000)
    )
    return CaptchaOutcome(detection, handled=handled)
