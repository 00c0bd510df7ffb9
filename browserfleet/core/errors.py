"""The one error vocabulary of browserfleet.

Core code raises these; each API family maps them to its own wire envelope in exactly one
place (``api/errors.py``). Nothing here knows about HTTP beyond the ``status`` hint.

::

    BrowserfleetError                 base of everything a client may see
    ├── InvalidRequest      400       bad input; ``details`` lists the offending fields
    ├── Unauthenticated     401       missing, unknown or revoked API key
    │   └── MissingApiKey               no key at all (each family names its own header)
    ├── PaymentRequired     402       balance spent or quota exceeded
    ├── Forbidden           403       a credential other than an API key (e.g. an upload token) is wrong
    ├── NotFound            404       unknown id, or another project's id
    ├── Conflict            409       the resource is in a state that forbids the call
    ├── PayloadTooLarge     413       the request body exceeds a size limit
    ├── RateLimited         429       concurrency or request-rate limit reached
    ├── Unavailable         503       the service cannot accept work right now
    └── Misconfigured                 the operator's settings are invalid (raised at start-up)

    JobFailure                        raised inside an executor: ends one job with an ErrorCode
    IllegalTransition                 a programming error: a job state change the machine forbids
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class BrowserfleetError(Exception):
    """Base class; ``status`` is the HTTP status an API family should use."""

    status: int = 500
    kind: str = "Internal Server Error"

    def __init__(self, message: str, *, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidRequest(BrowserfleetError):
    status = 400
    kind = "Bad Request"


class Unauthenticated(BrowserfleetError):
    status = 401
    kind = "Unauthorized"


class MissingApiKey(Unauthenticated):
    """No API key at all: a family whose clients send it in another header than ``Authorization:
    Bearer`` names its own header in its envelope (the Sessions family: ``X-BB-API-Key``)."""


class PaymentRequired(BrowserfleetError):
    status = 402
    kind = "Payment Required"


class Forbidden(BrowserfleetError):
    status = 403
    kind = "Forbidden"


class NotFound(BrowserfleetError):
    status = 404
    kind = "Not Found"


class Conflict(BrowserfleetError):
    status = 409
    kind = "Conflict"


class PayloadTooLarge(BrowserfleetError):
    status = 413
    kind = "Payload Too Large"


class RateLimited(BrowserfleetError):
    """``limit`` and ``in_use`` let a family render its own phrasing and headers."""

    status = 429
    kind = "Too Many Requests"

    def __init__(self, message: str, *, limit: int, in_use: int, retry_after_s: int = 1) -> None:
        super().__init__(message)
        self.limit = limit
        self.in_use = in_use
        self.retry_after_s = retry_after_s


class Unavailable(BrowserfleetError):
    status = 503
    kind = "Service Unavailable"


class Misconfigured(BrowserfleetError):
    kind = "Configuration Error"


class IllegalTransition(RuntimeError):
    """A job state change that the state machine in core/jobs.py does not allow."""


@dataclass(frozen=True)
class ErrorCodeInfo:
    billable: bool
    message: str


class ErrorCode(StrEnum):
    """Why a job failed. The table below is the documented errorCode table (docs/errors.md).

    User-caused failures are billable; system failures never are. When you add a code, also add
    its row to ``ERROR_CODES`` and to docs/errors.md.
    """

    WAIT_TIMEOUT = "WAIT_TIMEOUT"
    RENDER_TIMEOUT = "RENDER_TIMEOUT"
    NAVIGATION_FAILED = "NAVIGATION_FAILED"
    INVALID_SELECTOR = "INVALID_SELECTOR"
    EGRESS_BLOCKED = "EGRESS_BLOCKED"
    PROXY_UNAVAILABLE = "PROXY_UNAVAILABLE"
    BROWSER_CRASHED = "BROWSER_CRASHED"
    NODE_LOST = "NODE_LOST"
    CANCELLED = "CANCELLED"
    INTERNAL_ERROR = "INTERNAL_ERROR"
    CAPTCHA_UNSOLVABLE = "CAPTCHA_UNSOLVABLE"
    CAPTCHA_TIMEOUT = "CAPTCHA_TIMEOUT"
    CAPTCHA_SOLVER_ERROR = "CAPTCHA_SOLVER_ERROR"
    SESSION_TIMEOUT = "SESSION_TIMEOUT"
    CONTEXT_RESTORE_FAILED = "CONTEXT_RESTORE_FAILED"
    EXTENSION_LOAD_FAILED = "EXTENSION_LOAD_FAILED"
    FETCH_TOO_LARGE = "FETCH_TOO_LARGE"
    FETCH_TIMEOUT = "FETCH_TIMEOUT"
    FETCH_FAILED = "FETCH_FAILED"
    STEP_FAILED = "STEP_FAILED"
    LLM_NOT_CONFIGURED = "LLM_NOT_CONFIGURED"
    LLM_PROVIDER_ERROR = "LLM_PROVIDER_ERROR"
    LLM_BAD_OUTPUT = "LLM_BAD_OUTPUT"
    AGENT_STEP_LIMIT = "AGENT_STEP_LIMIT"
    AGENT_STUCK = "AGENT_STUCK"
    AGENT_GAVE_UP = "AGENT_GAVE_UP"
    TASK_TIMEOUT = "TASK_TIMEOUT"
    MEMORY_PRESSURE = "MEMORY_PRESSURE"

    @property
    def billable(self) -> bool:
        return ERROR_CODES[self].billable

    @property
    def default_message(self) -> str:
        return ERROR_CODES[self].message


ERROR_CODES: dict[ErrorCode, ErrorCodeInfo] = {
    ErrorCode.WAIT_TIMEOUT: ErrorCodeInfo(True, "A waitFor action did not complete within its timeout"),
    ErrorCode.RENDER_TIMEOUT: ErrorCodeInfo(True, "Overall render exceeded the render timeout"),
    ErrorCode.NAVIGATION_FAILED: ErrorCodeInfo(True, "The target site could not be loaded"),
    ErrorCode.INVALID_SELECTOR: ErrorCodeInfo(True, "A waitFor selector is not a valid CSS selector"),
    ErrorCode.EGRESS_BLOCKED: ErrorCodeInfo(
        False, "The destination is a private, loopback or metadata address blocked by the egress policy"
    ),
    ErrorCode.PROXY_UNAVAILABLE: ErrorCodeInfo(
        False, "Every exit proxy for the requested place failed (connect errors or cool-down)"
    ),
    ErrorCode.BROWSER_CRASHED: ErrorCodeInfo(False, "The browser crashed and the retry failed too"),
    ErrorCode.NODE_LOST: ErrorCodeInfo(False, "The node running the job was lost"),
    ErrorCode.CANCELLED: ErrorCodeInfo(False, "The job was cancelled"),
    ErrorCode.INTERNAL_ERROR: ErrorCodeInfo(False, "Internal error"),
    ErrorCode.CAPTCHA_UNSOLVABLE: ErrorCodeInfo(
        True, "The captcha solver answered that the captcha cannot be solved"
    ),
    ErrorCode.CAPTCHA_TIMEOUT: ErrorCodeInfo(False, "The captcha solver gave no solution within its timeout"),
    ErrorCode.CAPTCHA_SOLVER_ERROR: ErrorCodeInfo(
        False, "The captcha solver is not configured, unreachable or refused the request"
    ),
    ErrorCode.SESSION_TIMEOUT: ErrorCodeInfo(False, "The live session reached its timeout"),
    ErrorCode.CONTEXT_RESTORE_FAILED: ErrorCodeInfo(
        False, "The session's saved context could not be read or restored"
    ),
    ErrorCode.EXTENSION_LOAD_FAILED: ErrorCodeInfo(
        False, "The session's extension could not be read, unpacked or loaded by the browser"
    ),
    ErrorCode.FETCH_TOO_LARGE: ErrorCodeInfo(False, "The fetched body exceeds the fetch size limit"),
    ErrorCode.FETCH_TIMEOUT: ErrorCodeInfo(False, "The fetch did not finish within the fetch timeout"),
    ErrorCode.FETCH_FAILED: ErrorCodeInfo(
        False, "The fetched site could not be reached (DNS, refused connection, TLS failure, redirects)"
    ),
    ErrorCode.STEP_FAILED: ErrorCodeInfo(
        True, "An automation step failed (element missing, script error, unreachable page…)"
    ),
    ErrorCode.LLM_NOT_CONFIGURED: ErrorCodeInfo(
        False, "No model provider is configured (llm_base_url and llm_model)"
    ),
    ErrorCode.LLM_PROVIDER_ERROR: ErrorCodeInfo(
        False, "The model provider was unreachable, timed out or refused the request"
    ),
    ErrorCode.LLM_BAD_OUTPUT: ErrorCodeInfo(False, "The model's output could not be parsed, twice in a row"),
    ErrorCode.AGENT_STEP_LIMIT: ErrorCodeInfo(True, "The agent reached its step limit without an answer"),
    ErrorCode.AGENT_STUCK: ErrorCodeInfo(
        True, "The agent's actions kept failing, or it repeated one action on an unchanged page"
    ),
    ErrorCode.AGENT_GAVE_UP: ErrorCodeInfo(True, "The agent finished without accomplishing the task"),
    ErrorCode.TASK_TIMEOUT: ErrorCodeInfo(True, "The browsing task exceeded its timeout"),
    ErrorCode.MEMORY_PRESSURE: ErrorCodeInfo(
        False, "The node ran short of memory and ended this session, the newest idle one first"
    ),
}


class JobFailure(Exception):
    """Ends a job as ``failed`` with ``code``; raised by executors and the step runner.

    ``result`` is kept on the failed job (a session that timed out still records its usage);
    ``blobs`` are stored under the job like a completed job's (an automation run keeps the files
    its steps saved before the failing one)."""

    def __init__(
        self,
        code: ErrorCode,
        message: str | None = None,
        *,
        result: dict[str, Any] | None = None,
        blobs: dict[str, bytes] | None = None,
    ) -> None:
        super().__init__(message or code.default_message)
        self.code = code
        self.message = message or code.default_message
        self.result = result
        self.blobs = blobs or {}


class BrowserCrashed(Exception):
    """The browser under a job died. The node retries the job once on a fresh browser."""
