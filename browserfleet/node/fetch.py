"""The fetch executor: one plain HTTP GET (``POST /v1/fetch``) through a per-job egress channel.


httpx talks to the job's :class:`~browserfleet.node.egress.EgressChannel` as its proxy (plain HTTP
in absolute form; ``CONNECT`` for https, so TLS — and ``allowInsecureSsl`` → ``verify=False`` — is
between httpx and the site), so the node's egress policy, DNS-rebinding protection and byte counting
apply exactly as for a browser. Every redirect hop (``allowRedirects``) goes through the channel too.
With ``proxy_country`` the channel chains through the node's exit proxies for that country.

An IP-literal destination (first URL or redirect hop) is checked against the node's egress policy
before it is sent: httpx writes IPv6 literals without their brackets in a proxy request line, which
the channel cannot parse, so ``http://[::1]/`` is refused here (recorded in ``blocked`` like the
channel's own refusals). A response the egress proxy made up itself is never the site's answer:
``blocked`` is ``EGRESS_BLOCKED``, any other (unreachable, a request it could not forward)
``FETCH_FAILED``.

The body is streamed and cut off past ``max_bytes`` (decoded bytes, so a small compressed body
cannot expand past the limit unnoticed); it is returned as the ``body`` blob. The result records
``statusCode``, ``headers``, ``contentType``, ``encoding`` and usage (``proxyBytes``,
``browserMinutes`` = 0). Failures end the job with ``EGRESS_BLOCKED``, ``FETCH_TOO_LARGE``,
``FETCH_TIMEOUT``, ``FETCH_FAILED`` or ``PROXY_UNAVAILABLE`` — all non-billable, all keeping usage.
"""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import httpx

from browserfleet.core.errors import ErrorCode, JobFailure
from browserfleet.core.geo import catalogue
from browserfleet.core.http import outbound_client
from browserfleet.core.jobs import JobKind
from browserfleet.core.sessions.fetch import BODY_BLOB, FetchSpec
from browserfleet.node.egress import EGRESS_HEADER, BlockedAttempt, EgressChannel, EgressProxy
from browserfleet.node.executor import Execution, Executor
from browserfleet.node.proxies import ProxyPool, ProxyUpstream
from browserfleet.store.records import JobRecord

if TYPE_CHECKING:
    from browserfleet.node.parts import NodeParts
    from browserfleet.settings import Settings

MAX_REDIRECTS = 10
USER_AGENT = "browserfleet-fetch/1"


class FetchExecutor(Executor):
    kind = JobKind.FETCH

    def __init__(self, egress: EgressProxy, *, proxies: ProxyPool | None = None) -> None:
        self.egress = egress
        self.proxies = proxies

    @classmethod
    def from_settings(cls, settings: Settings, parts: NodeParts) -> FetchExecutor:
        """A fetch holds no browser: it runs on its own slots (``fetch_slots``), never a render's."""
        return cls(parts.egress, proxies=parts.proxies)

    async def run(self, job: JobRecord) -> Execution:
        spec = FetchSpec.model_validate(job.spec)
        upstream = self._exit(job, spec)
        channel = await self.egress.open_channel(job.id, upstream=upstream)
        try:
            try:
                async with asyncio.timeout(spec.fetch_timeout_s):
                    result, body = await self._get(spec, channel)
            except TimeoutError as exc:
                message = f"The fetch did not finish within {spec.fetch_timeout_s:g} s"
                raise JobFailure(ErrorCode.FETCH_TIMEOUT, message, result=_usage(channel)) from exc
            except httpx.TimeoutException as exc:
                message = f"The fetch did not finish within {spec.fetch_timeout_s:g} s ({type(exc).__name__})"
                raise JobFailure(ErrorCode.FETCH_TIMEOUT, message, result=_usage(channel)) from exc
            except httpx.HTTPError as exc:
                raise _failure(exc, channel, upstream) from exc
        finally:
            await channel.close()
        result.update(_usage(channel))
        return Execution(result=result, blobs={BODY_BLOB: body}, billable=False)

    def _exit(self, job: JobRecord, spec: FetchSpec) -> ProxyUpstream | None:
        if spec.proxy_country is None:
            return None
        city = catalogue().resolve(spec.proxy_country, None)
        upstream = None
        if city is not None and self.proxies is not None:
            upstream = ProxyUpstream.for_job(
                self.proxies,
                job.project_id,
                city,
                force_new=False,
                attempt_timeout=self.egress.connect_timeout / 2,
            )
        if upstream is None:
            message = f"No exit proxy for {spec.proxy_country} on this node"
            raise JobFailure(ErrorCode.PROXY_UNAVAILABLE, message)
        return upstream

    async def _get(self, spec: FetchSpec, channel: EgressChannel) -> tuple[dict[str, Any], bytes]:
        async with (
            outbound_client(
                proxy=channel.server_url,
                verify=not spec.allow_insecure_ssl,
                follow_redirects=spec.allow_redirects,
                max_redirects=MAX_REDIRECTS,
                timeout=spec.fetch_timeout_s,
                headers={"User-Agent": USER_AGENT},
                event_hooks={"request": [self._literal_check(channel)]},
            ) as client,
            client.stream("GET", spec.url) as response,
        ):
            _check_refused(response, channel)
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > spec.max_bytes:
                raise _too_large(spec, channel)
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > spec.max_bytes:
                    raise _too_large(spec, channel)
                chunks.append(chunk)
            headers: dict[str, str] = {}
            for name, value in response.headers.multi_items():
                key = name.lower()
                headers[key] = f"{headers[key]}, {value}" if key in headers else value
            result = {
                "statusCode": response.status_code,
                "headers": headers,
                "contentType": response.headers.get("content-type", ""),
                "encoding": response.charset_encoding or "utf-8",
                "finalUrl": str(response.url),
            }
            return result, b"".join(chunks)

    def _literal_check(self, channel: EgressChannel) -> Callable[[httpx.Request], Awaitable[None]]:
        """Refuses (and records) a request to an IP literal the egress policy refuses."""

        async def check(request: httpx.Request) -> None:
            try:
                ip = ipaddress.ip_address(request.url.host)
            except ValueError:
                return  # a name: the channel resolves and checks it
            reason = self.egress.policy.reason_refused(ip)
            if reason is not None:
                port = request.url.port or (443 if request.url.scheme == "https" else 80)
                channel.stats.blocked.append(
                    BlockedAttempt(host=str(ip), port=port, ip=str(ip), reason=reason)
                )
                raise httpx.ConnectError(f"egress to {ip} is refused: {reason}", request=request)

        return check


def _usage(channel: EgressChannel) -> dict[str, Any]:
    stats = channel.stats
    return {
        "browserMinutes": 0.0,
        "proxyBytes": stats.bytes_received + stats.bytes_sent,
        "blocked": [{"host": b.host, "ip": b.ip, "reason": b.reason} for b in stats.blocked],
    }


def _blocked(channel: EgressChannel) -> JobFailure | None:
    if not channel.stats.blocked:
        return None
    attempt = channel.stats.blocked[0]
    where = attempt.host if attempt.ip in (None, attempt.host) else f"{attempt.host} ({attempt.ip})"
    message = f"Destination {where} is refused by the egress policy: {attempt.reason}"
    return JobFailure(ErrorCode.EGRESS_BLOCKED, message, result=_usage(channel))


def _check_refused(response: httpx.Response, channel: EgressChannel) -> None:
    """A response the egress proxy made up itself (blocked, upstream error) is not the site's."""
    marker = response.headers.get(EGRESS_HEADER)
    if marker is None:
        return
    blocked = _blocked(channel)
    if marker == "blocked" and blocked is not None:
        raise blocked
    if marker == "upstream-error" and channel.stats.upstream_failures:
        host, error = next(reversed(channel.stats.upstream_failures.items()))
        raise JobFailure(ErrorCode.FETCH_FAILED, f"Could not reach {host}: {error}", result=_usage(channel))
    # anything else the proxy answered itself (e.g. a request it could not forward) is no answer
    message = (
        f"The egress proxy did not forward the request to {response.url} ({response.status_code} {marker})"
    )
    raise JobFailure(ErrorCode.FETCH_FAILED, message, result=_usage(channel))


def _too_large(spec: FetchSpec, channel: EgressChannel) -> JobFailure:
    message = f"The response body exceeds the {spec.max_bytes} byte fetch limit"
    return JobFailure(ErrorCode.FETCH_TOO_LARGE, message, result=_usage(channel))


def _failure(exc: httpx.HTTPError, channel: EgressChannel, upstream: ProxyUpstream | None) -> JobFailure:
    blocked = _blocked(channel)
    if blocked is not None:
        return blocked
    if upstream is not None and upstream.exhausted:
        return JobFailure(
            ErrorCode.PROXY_UNAVAILABLE, f"No working exit proxy: {exc}", result=_usage(channel)
        )
    if isinstance(exc, httpx.TooManyRedirects):
        message = f"More than {MAX_REDIRECTS} redirects"
    elif _is_tls(exc):
        message = f"TLS failure: {_cause(exc)}"
    elif channel.stats.upstream_failures:
        host, error = next(reversed(channel.stats.upstream_failures.items()))
        message = f"Could not reach {host}: {error}"
    else:
        message = f"The fetch failed: {_cause(exc)}"
    return JobFailure(ErrorCode.FETCH_FAILED, message, result=_usage(channel))


def _is_tls(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return True
        seen = seen.__cause__ or seen.__context__
    return "SSL" in str(exc) or "certificate" in str(exc).lower()


def _cause(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__
