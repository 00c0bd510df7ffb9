"""A captcha-solving service stand-in on 127.0.0.1 speaking the createTask/getTaskResult protocol.

It answers like 2Captcha / Anti-Captcha: ``POST /createTask {"clientKey", "task"}`` →
``{"errorId": 0, "taskId"}``; ``POST /getTaskResult {"clientKey", "taskId"}`` →
``{"errorId": 0, "status": "processing"}`` for :attr:`SolverStandIn.processing_polls` polls, then
``{"errorId": 0, "status": "ready", "solution": {...}}``; errors as
``{"errorId", "errorCode", "errorDescription"}``. Tokens are made with the test site's secret
(tests/site/captcha.py), so the site's server-side check can tell the solver made them.

Behaviour (set attributes between tests; :meth:`reset` restores the defaults):

* ``outcome = "solve"`` (default), ``"unsolvable"`` (errorId 12 ``ERROR_CAPTCHA_UNSOLVABLE`` after
  the processing polls) or ``"never"`` (processing forever: the client must time out);
* ``processing_polls``: how many polls answer ``processing`` first;
* ``token_field``: the solution field carrying the token (default: ``token`` for Turnstile,
  ``gRecaptchaResponse`` otherwise, as 2Captcha and Anti-Captcha answer);
* a request with another client key than ``client_key`` gets errorId 1 ``ERROR_KEY_DOES_NOT_EXIST``;
* ``ImageToTextTask`` (``body``: base64 of a PNG, JPEG or GIF file, no ``data:`` prefix, else
  ``ERROR_IMAGE_TYPE_NOT_SUPPORTED``; empty → ``ERROR_ZERO_CAPTCHA_FILESIZE``) is answered
  ``{"text": image_answer}``: the stand-in's "worker" reads what the test set in
  :attr:`SolverStandIn.image_answer` (no answer set → ``ERROR_CAPTCHA_UNSOLVABLE``). The test checks
  the image it was sent (:func:`tests.support.png.decode_png`). With ``image_at_once`` the answer
  comes in the createTask reply itself (``"status": "ready"``, as CapSolver does).

Every request is recorded in :attr:`requests` (path and JSON body) and every accepted task in
:attr:`tasks`.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from tests.site.captcha import make_token
from tests.support.standin import Request, Response, StandIn, json_response

TASK_TYPES = {
    "RecaptchaV2TaskProxyless": "recaptcha_v2",
    "RecaptchaV3TaskProxyless": "recaptcha_v3",
    "HCaptchaTaskProxyless": "hcaptcha",
    "TurnstileTaskProxyless": "turnstile",
    "ImageToTextTask": "image",
}
IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a")


SOLVER_KEY = "test-key"  # the client key tests configure browserfleet with


@dataclass
class StandInTask:
    task_id: int
    task: dict[str, Any]
    polls: int = 0
    token: str | None = None


@dataclass
class Recorded:
    path: str
    body: dict[str, Any]


class SolverStandIn(StandIn[Recorded]):
    name = "captcha-solver"
    methods = frozenset({"POST"})

    def __init__(self, client_key: str = SOLVER_KEY) -> None:
        super().__init__()
        self.client_key = client_key
        self.outcome = "solve"  # | "unsolvable" | "never"
        self.processing_polls = 1
        self.token_field: str | None = None
        self.image_answer: str | None = None  # what the "worker" reads in an ImageToTextTask
        self.image_at_once = False  # answer ImageToTextTask in the createTask reply (CapSolver)
        self.tasks: dict[int, StandInTask] = {}
        self._next_id = 1000

    def reset(self) -> None:
        """Default behaviour, nothing recorded."""
        with self._lock:
            super().reset()
            self.outcome = "solve"
            self.processing_polls = 1
            self.token_field = None
            self.image_answer = None
            self.image_at_once = False
            self.tasks.clear()

    # ------------------------------------------------------------------ what was seen
    def keys_seen(self) -> set[Any]:
        with self._lock:
            return {r.body.get("clientKey") for r in self.requests}

    def created(self) -> list[dict[str, Any]]:
        """The ``task`` objects of every accepted createTask, in order."""
        with self._lock:
            return [t.task for t in self.tasks.values()]

    # ------------------------------------------------------------------ protocol
    def respond(self, request: Request) -> Response:
        body = request.json(default=None) if request.body else {}
        if not isinstance(body, dict):
            return json_response(
                {"errorId": 1, "errorCode": "ERROR_BAD_REQUEST", "errorDescription": "not JSON"}, 400
            )
        return json_response(self.answer(request.target, body))

    def answer(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self.record(Recorded(path, body))
            if body.get("clientKey") != self.client_key:
                return _error(
                    1, "ERROR_KEY_DOES_NOT_EXIST", "Account authorization key not found in the system"
                )
            if path == "/createTask":
                return self._create(body.get("task"))
            if path == "/getTaskResult":
                return self._result(body.get("taskId"))
            return _error(14, "ERROR_NO_SUCH_METHOD", "Request to API made with method which does not exist")

    def _create(self, task: Any) -> dict[str, Any]:
        if not isinstance(task, dict) or task.get("type") not in TASK_TYPES:
            return _error(23, "ERROR_TASK_NOT_SUPPORTED", "Task type is not supported or inproperly printed")
        if task["type"] == "ImageToTextTask":
            problem = _image_problem(task.get("body"))
            if problem is not None:
                return problem
        elif not task.get("websiteURL") or not task.get("websiteKey"):
            return _error(15, "ERROR_BAD_PARAMETERS", "websiteURL and websiteKey are required")
        if task["type"] == "RecaptchaV3TaskProxyless" and task.get("minScore") not in (0.3, 0.7, 0.9):
            return _error(15, "ERROR_BAD_PARAMETERS", "minScore must be 0.3, 0.7 or 0.9")
        self._next_id += 1
        self.tasks[self._next_id] = StandInTask(self._next_id, task)
        if task["type"] == "ImageToTextTask" and self.image_at_once:
            return {"taskId": self._next_id, **self._image_solution()}
        return {"errorId": 0, "taskId": self._next_id}

    def _result(self, task_id: Any) -> dict[str, Any]:
        found = self.tasks.get(task_id) if isinstance(task_id, int) else None
        if found is None:
            return _error(16, "ERROR_NO_SUCH_CAPCHA_ID", "Task you are requesting does not exist")
        found.polls += 1
        if self.outcome == "never" or found.polls <= self.processing_polls:
            return {"errorId": 0, "status": "processing"}
        if self.outcome == "unsolvable":
            return _error(
                12, "ERROR_CAPTCHA_UNSOLVABLE", "Captcha could not be solved by 5 different workers"
            )
        kind = TASK_TYPES[found.task["type"]]
        if kind == "image":
            return self._image_solution()
        if found.token is None:
            found.token = make_token(str(found.task["websiteKey"]))
        name = self.token_field or ("token" if kind == "turnstile" else "gRecaptchaResponse")
        solution: dict[str, Any] = {name: found.token}
        if kind == "turnstile":
            solution["userAgent"] = "Mozilla/5.0 (stand-in)"
        return {"errorId": 0, "status": "ready", "solution": solution, "cost": "0.00200", "solveCount": 1}

    def _image_solution(self) -> dict[str, Any]:
        if not self.image_answer:
            return _error(
                12, "ERROR_CAPTCHA_UNSOLVABLE", "Captcha could not be solved by 5 different workers"
            )
        return {"errorId": 0, "status": "ready", "solution": {"text": self.image_answer}, "cost": "0.00070"}


def _image_problem(body: Any) -> dict[str, Any] | None:
    """The protocol's error for an ImageToTextTask body that is not a clean base64 image file."""
    if not isinstance(body, str) or not body:
        return _error(10, "ERROR_ZERO_CAPTCHA_FILESIZE", "The size of the captcha you are uploading is zero")
    try:
        data = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        data = b""
    if not data.startswith(IMAGE_MAGIC):
        return _error(
            28, "ERROR_IMAGE_TYPE_NOT_SUPPORTED", "Could not determine captcha file type by its exif header"
        )
    return None


def _error(error_id: int, code: str, description: str) -> dict[str, Any]:
    return {"errorId": error_id, "errorCode": code, "errorDescription": description}
