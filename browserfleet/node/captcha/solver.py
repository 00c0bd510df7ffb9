"""The pluggable captcha solver: what the engine asks of any solving service.

Contract of :class:`CaptchaSolver`:

* ``await solver.solve(task)`` returns the token the widget would have produced (a non-empty
  string), to be injected into the page by :mod:`browserfleet.node.captcha.inject`.
* It gives up after its configured timeout (or ``timeout_s`` if that is shorter) and raises
  :class:`CaptchaTimeout`.
* It raises :class:`CaptchaUnsolvable` when the service answers that this captcha cannot be solved
  (a definite answer about the target's captcha, e.g. a wrong sitekey or domain).
* It raises :class:`CaptchaSolverError` when the service itself fails: unreachable, a rejected
  client key, no balance, a malformed answer.
* ``await solver.solve_image(body)`` reads the text of an image captcha (``body``: the image
  file's bytes, e.g. a PNG) and returns it (a non-empty string), with the same timeout and errors.
  The default implementation says such captchas are unsolvable by this solver.
* It never writes its credentials to logs or error messages.

The three errors are :class:`JobFailure` subclasses with their own ``ErrorCode``, so a render or a
``solve_captcha`` step that meets them fails with a documented errorCode (docs/errors.md).
"""

from __future__ import annotations

import abc
from dataclasses import dataclass

from browserfleet.core.errors import ErrorCode, JobFailure


@dataclass(frozen=True)
class CaptchaTask:
    kind: str  # recaptcha_v2 | recaptcha_v3 | hcaptcha | turnstile
    website_url: str
    website_key: str
    page_action: str | None = None  # reCAPTCHA v3 action / Turnstile data-action
    min_score: float = 0.3  # reCAPTCHA v3: the score the token must reach (0.3, 0.7 or 0.9)


class CaptchaUnsolvable(JobFailure):
    def __init__(self, message: str) -> None:
        super().__init__(ErrorCode.CAPTCHA_UNSOLVABLE, message)


class CaptchaTimeout(JobFailure):
    def __init__(self, message: str) -> None:
        super().__init__(ErrorCode.CAPTCHA_TIMEOUT, message)


class CaptchaSolverError(JobFailure):
    def __init__(self, message: str) -> None:
        super().__init__(ErrorCode.CAPTCHA_SOLVER_ERROR, message)


class CaptchaSolver(abc.ABC):
    """Turns a :class:`CaptchaTask` into a token (see the module docstring for the contract)."""

    @abc.abstractmethod
    async def solve(self, task: CaptchaTask, *, timeout_s: float | None = None) -> str: ...

    async def solve_image(
        self, body: bytes, *, timeout_s: float | None = None, website_url: str | None = None
    ) -> str:
        """The text of an image captcha (``body``: the image file's bytes)."""
        raise CaptchaUnsolvable("image captchas are not supported by the solver")
