"""A solver speaking the ``createTask`` / ``getTaskResult`` JSON protocol.

2Captcha (``api.2captcha.com``), Anti-Captcha (``api.anti-captcha.com``) and CapSolver
(``api.capsolver.com``) all accept it::

    POST {base}/createTask     {"clientKey", "task": {"type", "websiteURL", "websiteKey", ...}}
      -> {"errorId": 0, "taskId": ...}
    POST {base}/getTaskResult  {"clientKey", "taskId"}
      -> {"errorId": 0, "status": "processing"}
      -> {"errorId": 0, "status": "ready", "solution": {"gRecaptchaResponse": "..."}}  (or "token")
    errors: {"errorId": >0, "errorCode": "ERROR_...", "errorDescription": "..."}

Image captchas (:meth:`CreateTaskSolver.solve_image`) use the task all three name alike:
``{"type": "ImageToTextTask", "body": <base64 of the image file, no data: prefix>, "websiteURL"}``
→ ``"solution": {"text": "..."}``. CapSolver answers that task at once: a createTask answer that
is already ``"status": "ready"`` carries the solution and is not polled.

Task types default to the proxyless names shared by 2Captcha and Anti-Captcha; a provider with
other names (CapSolver's ``AntiTurnstileTaskProxyLess``) can be served by passing ``task_types``.
"""

from __future__ import annotations

import asyncio
import base64
import time
from typing import Any

import httpx
import structlog

from browserfleet.core.http import OutboundClient, outbound_client
from browserfleet.node.captcha.solver import (
    CaptchaSolver,
    CaptchaSolverError,
    CaptchaTask,
    CaptchaTimeout,
    CaptchaUnsolvable,
)
from browserfleet.settings import Settings

log = structlog.get_logger(__name__)

TASK_TYPES: dict[str, str] = {
    "recaptcha_v2": "RecaptchaV2TaskProxyless",
    "recaptcha_v3": "RecaptchaV3TaskProxyless",
    "hcaptcha": "HCaptchaTaskProxyless",
    "turnstile": "TurnstileTaskProxyless",
}
IMAGE_TASK_TYPE = "ImageToTextTask"

# Error codes that are a definite answer about the captcha itself, not about the service.
UNSOLVABLE_CODES = frozenset(
    {
        "ERROR_CAPTCHA_UNSOLVABLE",
        "ERROR_BAD_DUPLICATES",
        "ERROR_RECAPTCHA_INVALID_SITEKEY",
        "ERROR_RECAPTCHA_INVALID_DOMAIN",
        "ERROR_RECAPTCHA_TIMEOUT",
        "ERROR_WRONG_GOOGLEKEY",
        "ERROR_TOKEN_EXPIRED",
        "ERROR_INVALID_TASK_DATA",
    }
)
UNSOLVABLE_ERROR_ID = 12  # ERROR_CAPTCHA_UNSOLVABLE in every implementation of the protocol
# Answers worth retrying createTask for until the deadline (the service is busy).
BUSY_CODES = frozenset({"ERROR_NO_SLOT_AVAILABLE"})
MAX_TRANSPORT_ERRORS = 3  # consecutive failed polls before giving up on the service
REQUEST_TIMEOUT_S = 30.0


class CreateTaskSolver(CaptchaSolver):
    def __init__(
        self,
        base_url: str,
        client_key: str,
        *,
        timeout_s: float = 120.0,
        poll_interval_s: float = 3.0,
        task_types: dict[str, str] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._client_key = client_key
        self.timeout_s = timeout_s
        self.poll_interval_s = poll_interval_s
        self.task_types = {**TASK_TYPES, **(task_types or {})}

    def __repr__(self) -> str:  # never show the key
        return f"CreateTaskSolver({self.base_url!r})"

    @classmethod
    def from_settings(cls, settings: Settings) -> CreateTaskSolver | None:
        """The configured solver, or None when ``captcha_solver_url`` is not set."""
        if not settings.captcha_solver_url:
            return None
        if not settings.captcha_solver_key:
            log.warning("captcha.solver_without_key", url=settings.captcha_solver_url)
        return cls(
            settings.captcha_solver_url,
            settings.captcha_solver_key or "",
            timeout_s=settings.captcha_timeout_s,
            poll_interval_s=settings.captcha_poll_interval_s,
        )

    def task_payload(self, task: CaptchaTask) -> dict[str, Any]:
        if task.kind not in self.task_types:
            raise CaptchaUnsolvable(f"captcha type {task.kind!r} is not supported by the solver")
        payload: dict[str, Any] = {
            "type": self.task_types[task.kind],
            "websiteURL": task.website_url,
            "websiteKey": task.website_key,
        }
        if task.kind == "recaptcha_v3":
            payload["minScore"] = task.min_score
            payload["pageAction"] = task.page_action or "verify"
        elif task.kind == "turnstile" and task.page_action:
            payload["action"] = task.page_action
        return payload

    async def solve(self, task: CaptchaTask, *, timeout_s: float | None = None) -> str:
        payload = self.task_payload(task)
        return self._token(await self._run(payload, task.kind, timeout_s))

    async def solve_image(
        self, body: bytes, *, timeout_s: float | None = None, website_url: str | None = None
    ) -> str:
        if not body:
            raise CaptchaUnsolvable("the captcha image is empty")
        payload: dict[str, Any] = {"type": IMAGE_TASK_TYPE, "body": base64.b64encode(body).decode("ascii")}
        if website_url:
            payload["websiteURL"] = website_url
        answer = await self._run(payload, "image", timeout_s)
        solution = answer.get("solution")
        text = solution.get("text") if isinstance(solution, dict) else None
        if not isinstance(text, str) or not text:
            raise CaptchaSolverError("captcha solver answered 'ready' without a text")
        return text

    async def _run(self, payload: dict[str, Any], kind: str, timeout_s: float | None) -> dict[str, Any]:
        """createTask, then getTaskResult until ready: the ready answer."""
        budget = self.timeout_s if timeout_s is None else min(self.timeout_s, timeout_s)
        started = time.monotonic()
        deadline = started + budget
        async with outbound_client(timeout=REQUEST_TIMEOUT_S) as http:
            created = await self._create(http, payload, deadline, budget)
            if created.get("status") == "ready":  # answered at once (CapSolver's ImageToTextTask)
                answer = created
            else:
                answer = await self._wait_result(http, created["taskId"], deadline, budget)
        log.info("captcha.solved", kind=kind, ms=round((time.monotonic() - started) * 1000))
        return answer

    async def _create(
        self, http: OutboundClient, task: dict[str, Any], deadline: float, budget: float
    ) -> dict[str, Any]:
        while True:
            answer: dict[str, Any] = await self._call(http, "createTask", {"task": task}, deadline)
            if answer.get("errorId", 0) == 0:
                if answer.get("status") != "ready" and answer.get("taskId") is None:
                    raise CaptchaSolverError("captcha solver accepted createTask without a taskId")
                return answer
            if answer.get("errorCode") not in BUSY_CODES:
                raise self._error(answer, "createTask")
            await self._sleep_or_timeout(deadline, budget)

    async def _wait_result(
        self, http: OutboundClient, task_id: Any, deadline: float, budget: float
    ) -> dict[str, Any]:
        failures = 0
        while True:
            await self._sleep_or_timeout(deadline, budget)
            try:
                answer = await self._call(http, "getTaskResult", {"taskId": task_id}, deadline)
            except CaptchaSolverError:
                failures += 1
                if failures >= MAX_TRANSPORT_ERRORS:
                    raise
                continue
            failures = 0
            if answer.get("errorId", 0) != 0:
                raise self._error(answer, "getTaskResult")
            if answer.get("status") == "ready":
                return dict(answer)
            if answer.get("status") not in ("processing", "idle"):
                raise CaptchaSolverError(
                    f"captcha solver answered an unknown status {answer.get('status')!r}"
                )

    async def _sleep_or_timeout(self, deadline: float, budget: float) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise CaptchaTimeout(f"the captcha solver gave no solution within {budget:g}s")
        await asyncio.sleep(min(self.poll_interval_s, remaining))
        if time.monotonic() >= deadline:
            raise CaptchaTimeout(f"the captcha solver gave no solution within {budget:g}s")

    async def _call(self, http: OutboundClient, method: str, body: dict[str, Any], deadline: float) -> Any:
        url = f"{self.base_url}/{method}"
        timeout = max(0.5, min(REQUEST_TIMEOUT_S, deadline - time.monotonic()))
        try:
            response = await http.post(url, json={"clientKey": self._client_key, **body}, timeout=timeout)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise CaptchaSolverError(f"captcha solver unreachable ({method}): {type(exc).__name__}") from exc
        try:
            answer = response.json()
        except ValueError as exc:
            raise CaptchaSolverError(
                f"captcha solver sent no JSON ({method}, HTTP {response.status_code})"
            ) from exc
        if not isinstance(answer, dict):
            raise CaptchaSolverError(f"captcha solver sent an unexpected answer ({method})")
        return answer

    def _error(self, answer: dict[str, Any], method: str) -> CaptchaSolverError | CaptchaUnsolvable:
        code = str(answer.get("errorCode") or f"errorId {answer.get('errorId')}")
        description = self._scrub(str(answer.get("errorDescription") or "")).strip()
        message = f"{code}: {description}" if description else code
        if code in UNSOLVABLE_CODES or answer.get("errorId") == UNSOLVABLE_ERROR_ID:
            return CaptchaUnsolvable(f"the captcha could not be solved ({message})")
        return CaptchaSolverError(f"captcha solver refused {method} ({message})")

    def _token(self, answer: dict[str, Any]) -> str:
        solution = answer.get("solution")
        if isinstance(solution, dict):
            for name in ("gRecaptchaResponse", "token"):
                value = solution.get(name)
                if isinstance(value, str) and value:
                    return value
        raise CaptchaSolverError("captcha solver answered 'ready' without a token")

    def _scrub(self, text: str) -> str:
        return text.replace(self._client_key, "***") if self._client_key else text
