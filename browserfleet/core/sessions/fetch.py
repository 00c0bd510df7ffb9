"""The fetch service (``POST /v1/fetch``): one plain HTTP GET, no browser, as a job of kind ``fetch``.

The API process never opens a connection to the fetched site: a fetch is admitted against the
project's concurrency limit (per kind, like every job; never charged), inserted as a job and run by a
node's fetch executor (node/fetch.py) through a per-job egress channel, so the node's egress policy
and byte accounting apply exactly as for a browser. The caller waits synchronously, bounded by
``fetch_timeout_s`` plus a margin, for the job's terminal event; the body comes back as the job's
``body`` blob and is shaped here (``raw`` text, parsed ``json``, or ``markdown``).

``proxies: true`` means: leave through the node's own exit proxies for the node's country
(``node_country``, see docs/proxies.md). Without a ``node_country`` or without an exit proxy for it
the request is refused with 400 — never silently sent from the node's own address.

Errors (:class:`FetchError`) carry the fetch id; the API puts it in the error body:

* ``EGRESS_BLOCKED`` → 403 (the destination, or a redirect target, is refused by the egress policy;
  nothing was sent to it);
* ``FETCH_TOO_LARGE`` / ``FETCH_FAILED`` (DNS, refused connection, TLS failure, too many redirects)
  / ``PROXY_UNAVAILABLE`` / body not JSON with ``format: json`` → 502;
* ``FETCH_TIMEOUT`` → 504; concurrency → 429 (raised by admission, before a job exists).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel

from browserfleet.core.accounts import new_id
from browserfleet.core.admission import Admission
from browserfleet.core.errors import BrowserfleetError, ErrorCode, InvalidRequest
from browserfleet.core.exits import ExitDirectory
from browserfleet.core.geo import catalogue
from browserfleet.core.jobs import JobKind, JobState, Route
from browserfleet.core.lifecycle import finish, wait_for
from browserfleet.core.sessions.markdown import html_to_markdown
from browserfleet.dispatch.base import Dispatcher, Ticket
from browserfleet.store.blobs import BlobStore
from browserfleet.store.records import JobOutcome, JobRecord, ProjectRecord
from browserfleet.store.repo import Store

if TYPE_CHECKING:
    from browserfleet.settings import Settings

Format = Literal["raw", "json", "markdown"]
BODY_BLOB = "body"
WAIT_MARGIN_S = 10.0  # how much longer than fetch_timeout_s the API waits for a node


class FetchSpec(BaseModel):
    """What a fetch job carries in ``spec`` (core writes it, the node reads it)."""

    url: str
    allow_redirects: bool = False
    allow_insecure_ssl: bool = False
    proxy_country: str | None = None  # proxies: true → exits of this country
    fetch_timeout_s: float
    max_bytes: int
    timeout_s: float  # the node's outer guard: fetch_timeout_s plus a margin


@dataclass(frozen=True)
class FetchPolicy:
    timeout_s: float = 30.0
    max_bytes: int = 10 * 1024 * 1024
    node_country: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> FetchPolicy:
        s = settings
        return cls(timeout_s=s.fetch_timeout_s, max_bytes=s.fetch_max_bytes, node_country=s.node_country)


@dataclass(frozen=True)
class FetchResult:
    id: str
    status_code: int
    headers: dict[str, str]
    content: str | Any
    content_type: str
    encoding: str


class FetchError(BrowserfleetError):
    """A fetch that did not produce a response; ``fetch_id`` goes into the error body."""

    def __init__(self, status: int, kind: str, message: str, fetch_id: str) -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind
        self.fetch_id = fetch_id


_STATUS_FOR: dict[str, tuple[int, str]] = {
    ErrorCode.EGRESS_BLOCKED.value: (403, "Forbidden"),
    ErrorCode.FETCH_TIMEOUT.value: (504, "Gateway Timeout"),
    ErrorCode.RENDER_TIMEOUT.value: (504, "Gateway Timeout"),  # the node's outer guard fired
}


class Fetches:
    def __init__(
        self,
        store: Store,
        blobs: BlobStore,
        dispatcher: Dispatcher,
        admission: Admission,
        policy: FetchPolicy,
        *,
        exits: ExitDirectory | None = None,
    ) -> None:
        self.store = store
        self.blobs = blobs
        self.dispatcher = dispatcher
        self.admission = admission
        self.policy = policy
        self.exits = exits

    def _proxy_country(self, proxies: bool) -> str | None:
        if not proxies:
            return None
        country = self.policy.node_country
        city = catalogue().resolve(country, None) if country else None
        if city is None or self.exits is None or not self.exits.serves(city):
            message = "proxies: true needs an exit proxy for this node's country (none is configured)"
            raise InvalidRequest(message, details=[{"field": "proxies", "message": message}])
        return city.country

    async def fetch(
        self,
        project: ProjectRecord,
        *,
        url: str,
        allow_redirects: bool = False,
        allow_insecure_ssl: bool = False,
        proxies: bool = False,
        format: Format = "raw",
    ) -> FetchResult:
        spec = FetchSpec(
            url=url,
            allow_redirects=allow_redirects,
            allow_insecure_ssl=allow_insecure_ssl,
            proxy_country=self._proxy_country(proxies),
            fetch_timeout_s=self.policy.timeout_s,
            max_bytes=self.policy.max_bytes,
            timeout_s=self.policy.timeout_s + WAIT_MARGIN_S / 2,
        )
        job_id = new_id("fet")
        subscription = self.dispatcher.subscribe([job_id])
        try:
            async with self.admission.admit(project, JobKind.FETCH, billable=False):
                job = await self.store.insert_job(
                    job_id=job_id,
                    project_id=project.id,
                    kind=JobKind.FETCH,
                    route=Route(),
                    spec=spec.model_dump(mode="json"),
                    keep_blobs_days=1 / 24,
                )
            await self.dispatcher.submit(Ticket(job.id, project.id, job.kind, job.route))
            await wait_for(subscription, job.id, self.policy.timeout_s + WAIT_MARGIN_S)
        finally:
            await subscription.close()
        finished = await self.store.get_job(job.id)
        if finished is None or not finished.state.terminal:
            if await self.dispatcher.withdraw(job.id):
                await self._cancel_queued(job)
            timeout_s = self.policy.timeout_s
            raise FetchError(
                504, "Gateway Timeout", f"The fetch did not finish within {timeout_s:g} s", job.id
            )
        return await self._result(finished, format)

    async def _cancel_queued(self, job: JobRecord) -> None:
        code = ErrorCode.FETCH_TIMEOUT
        outcome = JobOutcome(
            JobState.CANCELLED, error_code=code.value, error_message="No node took it in time"
        )
        await finish(self.store, self.dispatcher, job.id, outcome)

    async def _result(self, job: JobRecord, format: Format) -> FetchResult:
        if job.state is not JobState.COMPLETED or job.result is None:
            code = job.error_code or ErrorCode.INTERNAL_ERROR.value
            status, kind = _STATUS_FOR.get(code, (502, "Bad Gateway"))
            raise FetchError(status, kind, job.error_message or "The fetch failed", job.id)
        body = await self.blobs.get(job.id, BODY_BLOB) or b""
        await self.blobs.delete_job(job.id)  # handed to the caller: nothing to keep
        result = job.result
        encoding = str(result.get("encoding") or "utf-8")
        text = body.decode(encoding, errors="replace")
        content_type = str(result.get("contentType") or "")
        content: Any = text
        if format == "json":
            try:
                content = json.loads(text)
            except json.JSONDecodeError as exc:
                message = f"The response body is not valid JSON ({exc.msg} at position {exc.pos})"
                raise FetchError(502, "Bad Gateway", message, job.id) from exc
        elif format == "markdown" and "html" in content_type.lower():
            base_url = str(result.get("finalUrl") or job.spec.get("url") or "")
            content = await asyncio.to_thread(html_to_markdown, text, base_url)
        return FetchResult(
            id=job.id,
            status_code=int(result["statusCode"]),
            headers={str(k): str(v) for k, v in dict(result.get("headers") or {}).items()},
            content=content,
            content_type=content_type,
            encoding=encoding,
        )
