"""Putting a solved token where each widget expects it, then firing the page's callback.

* reCAPTCHA v2/v3: every ``g-recaptcha-response`` field (a hidden textarea is created in the
  widget's form when there is none), ``grecaptcha.getResponse()`` (and, for v3,
  ``grecaptcha.execute()``) answer the token; then the widget's ``data-callback``, else the
  callbacks registered through ``grecaptcha.render`` (found in ``___grecaptcha_cfg``).
* hCaptcha: ``h-captcha-response`` and ``g-recaptcha-response``, ``hcaptcha.getResponse()``,
  ``data-callback``.
* Turnstile: ``cf-turnstile-response`` (a hidden input, created when missing),
  ``turnstile.getResponse()``, ``data-callback``.

Everything happens in the frame the widget was detected in.
"""

from __future__ import annotations

import contextlib
from importlib import resources

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page

from browserfleet.node.captcha.detect import Detection

_JS = resources.files("browserfleet.node.captcha") / "js"
INJECT_JS = (_JS / "inject.js").read_text()
CALLBACK_JS = (_JS / "callback.js").read_text()


async def inject(page: Page, detection: Detection, token: str) -> bool:
    """True when the token was put into the widget's fields (callbacks are fired after that;
    a callback that throws or navigates away does not undo the injection)."""
    frame = detection.frame or page.main_frame
    arg = {"type": detection.type, "sitekey": detection.sitekey, "token": token}
    try:
        filled = int(await frame.evaluate(INJECT_JS, arg))
    except PlaywrightError:  # the frame went away (navigated or detached) since detection
        return False
    with contextlib.suppress(PlaywrightError):  # e.g. a callback that submits the form
        await frame.evaluate(CALLBACK_JS, arg)
    return filled > 0
