"""Webhook delivery of automation runs: a signed POST of the run object to the run's ``webhook_url``.

Pipeline (docs/automations.md, "Webhooks"):

1. **enqueue** — :meth:`Webhooks.on_run_finished` is a run-finished hook (``Runs.add_finished_hook``):
   for a run with a ``webhook_url`` it builds the body once (the run object of
   core/automations/wire.py, the same JSON as ``GET /v1/tasks/{task}/runs/{uid}`` minus the two
   delivery fields) and stores a *pending* delivery, due now. One delivery per run (the run id is
   its key), so a repeated event or the start-up catch-up never sends twice.
2. **claim** — the delivery loop claims due deliveries in the store (a lease: their due time moves
   past the attempt's timeout), so a crash mid-attempt only delays the delivery.
3. **send** — :class:`WebhookSender` makes one signed POST (``X-Browserfleet-Timestamp`` and
   ``X-Browserfleet-Signature: sha256=HMAC-SHA256(secret, "<timestamp>.<body>")``); the target is
   checked against the egress policy first (a refused target is recorded and never contacted).
4. **record** — every attempt is appended to the delivery (``{attempt, at, status_code, error,
   duration_ms}``) and shows on the run object (``webhook_status``, ``webhook_attempts``). A 2xx
   ends it ``delivered``; a non-2xx, a timeout or a connection error schedules the next attempt
   after ``backoff_s * 2**(n-1)`` seconds, up to ``max_attempts`` (then ``failed``).

Deliveries live in the store, so a restart resumes them: the loop picks up whatever is due, and
runs that ended just before a stop without a delivery yet are caught up at start.

The signing secret is per project, derived from the server's master key (core/vault.py), never
stored: ``whsec_`` + hex(HKDF-SHA256(master, "browserfleet/webhook-signing/<project id>")).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import ipaddress
import json
import socket
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit, urlunsplit

import httpx
import structlog

from browserfleet.core.automations.wire import FileUrl, run_object, timestamp
from browserfleet.core.http import outbound_client
from browserfleet.core.jobs import utcnow
from browserfleet.core.keys import same_secret
from browserfleet.core.vault import Vault
from browserfleet.store.records import TaskRunRecord, WebhookDeliveryRecord
from browserfleet.store.repo import Store

if TYPE_CHECKING:
    from browserfleet.settings import Settings

log = structlog.get_logger(__name__)

__all__ = [
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "AddressCheck",
    "HttpSender",
    "Outcome",
    "WebhookPolicy",
    "WebhookSender",
    "Webhooks",
    "sign",
    "verify",
    "webhook_secret",
]

SIGNATURE_HEADER: Final = "X-Browserfleet-Signature"
TIMESTAMP_HEADER: Final = "X-Browserfleet-Timestamp"
USER_AGENT: Final = "browserfleet-webhooks/1"
DELIVERY_FIELDS: Final = ("webhook_status", "webhook_attempts")  # describe the delivery: not posted
PENDING, DELIVERED, FAILED, REFUSED = "pending", "delivered", "failed", "refused"
MAX_IN_FLIGHT: Final = 16  # attempts sent at once by one process
IDLE_S: Final = 30.0  # longest the loop sleeps without looking at the store
LEASE_MARGIN_S: Final = 30.0  # a claim outlives its attempt's timeout by this much
CATCH_UP_WINDOW: Final = timedelta(days=1)  # runs ended this recently get a late delivery
CATCH_UP_LIMIT: Final = 1000

AddressCheck = Callable[[ipaddress.IPv4Address | ipaddress.IPv6Address], str | None]
"""Why the egress policy refuses an address (``"private address"``), or None when permitted."""


# --- the secret and the signature ---------------------------------------------------------------
def webhook_secret(vault: Vault, project_id: str) -> str:
    """The project's signing secret (derived, stable while the master key is)."""
    return "whsec_" + vault.key_for("webhook-signing", project_id).hex()


def sign(secret: str, unix_time: int, body: bytes) -> str:
    """``sha256=`` + hex HMAC-SHA256 of ``b"<unix_time>." + body`` keyed with the secret's UTF-8."""
    mac = hmac.new(secret.encode(), str(unix_time).encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(
    secret: str, timestamp_header: str, body: bytes, signature: str, *, tolerance_s: float = 300
) -> bool:
    """What a receiver does: the signature matches and the timestamp is recent (replays)."""
    try:
        unix_time = int(timestamp_header)
    except ValueError:
        return False
    if abs(time.time() - unix_time) > tolerance_s:
        return False
    return same_secret(signature, sign(secret, unix_time, body))


# --- policy and outcome ----------------------------------------------------------------------------
@dataclass(frozen=True)
class WebhookPolicy:
    timeout_s: float = 10.0  # one attempt, DNS to response headers
    max_attempts: int = 6
    backoff_s: float = 2.0  # before the 2nd attempt; doubles after each failure

    @classmethod
    def from_settings(cls, settings: Settings) -> WebhookPolicy:
        return cls(settings.webhook_timeout_s, settings.webhook_max_attempts, settings.webhook_backoff_s)

    def delay(self, attempts_made: int) -> float:
        """Seconds from the ``attempts_made``-th failed attempt to the next one."""
        return float(self.backoff_s * 2 ** (attempts_made - 1))

    @property
    def longest_s(self) -> float:
        """Bound on a delivery's life: every attempt timing out, every back-off waited."""
        waits = sum(self.delay(n) for n in range(1, self.max_attempts))
        return waits + self.max_attempts * self.timeout_s


@dataclass(frozen=True)
class Outcome:
    """What one attempt got: an HTTP status, or an error (``refused``: the policy said no)."""

    status_code: int | None = None
    error: str | None = None
    refused: bool = False

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


# --- the sender (extension point) ------------------------------------------------------------------
class WebhookSender(ABC):
    """Makes one POST. Contract: never raises for the target's failures (refused by the egress
    policy, DNS, connect, TLS, timeout): they come back as an :class:`Outcome` with ``error``; does
    not follow redirects (a 3xx is a failed attempt); does not read more than the status line and
    headers of the answer."""

    @abstractmethod
    async def post(self, url: str, body: bytes, headers: dict[str, str], timeout_s: float) -> Outcome: ...

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections (called once, at shutdown)."""


class HttpSender(WebhookSender):
    """httpx, with the target checked against the egress policy first.

    The host is resolved once, every address is checked with ``check``, and the request goes to
    the first permitted address (the URL's host kept in ``Host`` and as the TLS server name), so
    DNS rebinding cannot slip a private address past the check. No environment proxies.
    """

    def __init__(self, check: AddressCheck) -> None:
        self._check = check
        self._client = outbound_client()

    async def post(self, url: str, body: bytes, headers: dict[str, str], timeout_s: float) -> Outcome:
        try:
            async with asyncio.timeout(timeout_s):
                return await self._post(url, body, headers, timeout_s)
        except TimeoutError:
            return Outcome(error=f"timed out after {timeout_s:g}s")
        except httpx.TimeoutException as exc:
            return Outcome(error=f"timed out after {timeout_s:g}s ({type(exc).__name__})")
        except (httpx.HTTPError, OSError, ValueError) as exc:  # connect, TLS, protocol, bad IDNA
            return Outcome(error=f"{type(exc).__name__}: {exc}".rstrip(": "))

    async def _post(self, url: str, body: bytes, headers: dict[str, str], timeout_s: float) -> Outcome:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        addresses = await _resolve(host, port)
        permitted = [ip for ip in addresses if self._check(ip) is None]
        if not permitted:
            reason = self._check(addresses[0]) or "refused"
            return Outcome(
                error=f"refused by the egress policy: {host} ({addresses[0]}) is a {reason}", refused=True
            )
        userinfo, _, hostport = parts.netloc.rpartition("@")
        netloc = _netloc(permitted[0], parts.port)
        target = urlunsplit(parts._replace(netloc=f"{userinfo}@{netloc}" if userinfo else netloc))
        request_headers = {**headers, "Host": hostport}
        extensions: dict[str, Any] = {"sni_hostname": host} if parts.scheme == "https" else {}
        request = self._client.build_request(
            "POST", target, content=body, headers=request_headers, timeout=timeout_s, extensions=extensions
        )
        response = await self._client.send(request, stream=True)
        await response.aclose()
        return Outcome(status_code=response.status_code)

    async def close(self) -> None:
        await self._client.aclose()


async def _resolve(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    with contextlib.suppress(ValueError):
        return [ipaddress.ip_address(host)]
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    found = [
        ipaddress.ip_address(str(info[4][0]))
        for info in infos
        if info[0] in (socket.AF_INET, socket.AF_INET6)
    ]
    if not found:
        raise OSError(f"{host} resolved to no IP address")
    return list(dict.fromkeys(found))


def _netloc(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, port: int | None) -> str:
    shown = f"[{ip}]" if ip.version == 6 else str(ip)
    return shown if port is None else f"{shown}:{port}"


# --- the service ------------------------------------------------------------------------------------
class Webhooks:
    """Queues, sends, retries and records the webhook deliveries of runs (see the module docstring)."""

    def __init__(
        self, store: Store, vault: Vault, sender: WebhookSender, policy: WebhookPolicy, file_url: FileUrl
    ) -> None:
        self.store = store
        self.vault = vault
        self.sender = sender
        self.policy = policy
        self.file_url = file_url
        self._wake = asyncio.Event()
        self._in_flight: set[asyncio.Task[None]] = set()
        self._loop_task: asyncio.Task[None] | None = None

    def secret_for(self, project_id: str) -> str:
        return webhook_secret(self.vault, project_id)

    # 1. enqueue
    async def on_run_finished(self, run: TaskRunRecord) -> None:
        """The run-finished hook: store a pending delivery for a run with a ``webhook_url``."""
        if not run.webhook_url or not run.job.state.terminal:
            return
        body = {k: v for k, v in run_object(run, self.file_url).items() if k not in DELIVERY_FIELDS}
        now = utcnow()
        delivery = WebhookDeliveryRecord(
            run_id=run.job.id,
            project_id=run.job.project_id,
            url=run.webhook_url,
            body=json.dumps(body, separators=(",", ":")),
            state=PENDING,
            attempts=(),
            next_attempt_at=now,
            created_at=now,
        )
        if await self.store.add_webhook_delivery(delivery):
            log.info("webhook.queued", run=run.job.id)
            self._wake.set()

    # the loop: 2. claim, 3. send, 4. record
    def start(self) -> None:
        self._loop_task = asyncio.create_task(self._run(), name="webhooks")

    async def stop(self) -> None:
        tasks = [t for t in (self._loop_task, *self._in_flight) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.sender.close()

    async def _run(self) -> None:
        await self._catch_up()
        while True:
            self._wake.clear()
            try:
                await self._dispatch_due()
                await self._sleep()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("webhook.loop_failed")
                await asyncio.sleep(1.0)

    async def _catch_up(self) -> None:
        """Runs that ended (recently) while no delivery could be recorded: a stop in between."""
        try:
            missed = await self.store.runs_without_webhook_delivery(
                utcnow() - CATCH_UP_WINDOW, CATCH_UP_LIMIT
            )
            for run in missed:
                await self.on_run_finished(run)
        except Exception:
            log.exception("webhook.catch_up_failed")

    async def _dispatch_due(self) -> None:
        room = MAX_IN_FLIGHT - len(self._in_flight)
        if room <= 0:
            return
        now = utcnow()
        lease = now + timedelta(seconds=self.policy.timeout_s + LEASE_MARGIN_S)
        for delivery in await self.store.claim_webhook_deliveries(now, lease, room):
            task = asyncio.create_task(self._attempt(delivery), name=f"webhook-{delivery.run_id}")
            self._in_flight.add(task)
            task.add_done_callback(self._attempt_done)

    def _attempt_done(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        self._wake.set()

    async def _sleep(self) -> None:
        timeout = IDLE_S
        if len(self._in_flight) < MAX_IN_FLIGHT:
            due = await self.store.next_webhook_due()
            if due is not None:
                timeout = min(IDLE_S, max(0.01, (due - utcnow()).total_seconds()))
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._wake.wait()

    async def _attempt(self, delivery: WebhookDeliveryRecord) -> None:
        number = len(delivery.attempts) + 1
        body = delivery.body.encode()
        unix_time = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            TIMESTAMP_HEADER: str(unix_time),
            SIGNATURE_HEADER: sign(self.secret_for(delivery.project_id), unix_time, body),
            "X-Browserfleet-Run": delivery.run_id,
            "X-Browserfleet-Attempt": str(number),
        }
        at, started = utcnow(), time.monotonic()
        outcome = await self.sender.post(delivery.url, body, headers, self.policy.timeout_s)
        attempt = {
            "attempt": number,
            "at": timestamp(at),
            "status_code": outcome.status_code,
            "error": outcome.error,
            "duration_ms": round((time.monotonic() - started) * 1000),
        }
        state, next_at = self._next_step(number, outcome)
        await self.store.record_webhook_attempt(delivery.run_id, attempt, state, next_at)
        log.info("webhook.attempt", run=delivery.run_id, state=state, **attempt)

    def _next_step(self, number: int, outcome: Outcome) -> tuple[str, datetime | None]:
        if outcome.ok:
            return DELIVERED, None
        if outcome.refused:  # the policy will say the same next time: never contacted, not retried
            return REFUSED, None
        if number >= self.policy.max_attempts:
            return FAILED, None
        return PENDING, utcnow() + timedelta(seconds=self.policy.delay(number))
