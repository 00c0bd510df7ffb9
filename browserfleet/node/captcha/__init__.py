"""Captchas: detection in a page and its frames, solving through a pluggable solver, injection.

``from browserfleet.node import captcha``; ``await captcha.detect(page)``;
``await captcha.handle(page, mode, solver)`` for the whole detect → solve → inject phase.
"""

from browserfleet.node.captcha.createtask import CreateTaskSolver
from browserfleet.node.captcha.detect import KINDS, Detection, detect, detect_all
from browserfleet.node.captcha.handle import CaptchaOutcome, handle
from browserfleet.node.captcha.inject import inject
from browserfleet.node.captcha.solver import (
    CaptchaSolver,
    CaptchaSolverError,
    CaptchaTask,
    CaptchaTimeout,
    CaptchaUnsolvable,
)
from browserfleet.settings import Settings


def build_solver(settings: Settings) -> CaptchaSolver | None:
    """The solver the settings configure (``captcha_solver_url`` + ``captcha_solver_key``), or None."""
    return CreateTaskSolver.from_settings(settings)


__all__ = [
    "KINDS",
    "CaptchaOutcome",
    "CaptchaSolver",
    "CaptchaSolverError",
    "CaptchaTask",
    "CaptchaTimeout",
    "CaptchaUnsolvable",
    "CreateTaskSolver",
    "Detection",
    "build_solver",
    "detect",
    "detect_all",
    "handle",
    "inject",
]
