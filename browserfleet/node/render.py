"""The render executor: load a URL in a fresh context, wait, capture HTML / screenshot / fetches.

Phases and their timings (``timingBreakdown``): browserInit (context + page), navigation (until
DOMContentLoaded), loadStrategy (``load`` plus in-flight requests settling, or just ``load`` for
custom waits), captcha (detection and solving), waitActions (the translated ``waitFor``), screenshot,
htmlCapture.

Every render has a context of its own, used by it alone and closed after it (in the background:
the answer does not wait for the close). Two lanes:

- **The page lane** (most renders): no captcha handling, screenshot or fetches, and waits that are
  delays, text, plain CSS selectors or scripts (node/cdp_waits.py ``runs_on_cdp``). Its page is
  driven over the browser's DevTools line without Playwright (node/cdp_page.py): a fraction of
  the commands and no driver process in between. Renders of the *warm shape* — the node's own
  place (timezone, locale, geolocation, Accept-Language), images blocked, no exit proxy — take a
  page made before they arrived (node/warm.py, ``render_warm_contexts`` per browser), so they start
  at the navigation (browserInit ≈ 0); a render of another shape makes its page when it starts (a
  context's proxy is fixed when it is made).
- **The Playwright lane**: every other render, on a Playwright context made when it starts, its
  actions run by the step runner (node/steps.py).

Both give a context the same shape (``context_options`` / ``PageOptions``) and the in-page request
counter (js/pending_requests.js), whatever the load strategy, and run the same phases
(:class:`_RenderRun`); only the page operations differ.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

import structlog
from playwright.async_api import BrowserContext, Page
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeout

from browserfleet.core import actions as a
from browserfleet.core.errors import BrowserCrashed, ErrorCode, JobFailure
from browserfleet.core.geo import City, catalogue
from browserfleet.core.jobs import JobKind
from browserfleet.core.renders.spec import RenderSpec
from browserfleet.node import captcha
from browserfleet.node.cdp import CDPClosed, CDPError
from browserfleet.node.cdp_page import CDPPage, NavigationFailed, PageGone, PageOptions, ScriptError
from browserfleet.node.cdp_waits import CDPWaits, runs_on_cdp
from browserfleet.node.egress import EGRESS_HEADER, EgressChannel, EgressProxy
from browserfleet.node.executor import Execution, Executor
from browserfleet.node.page_setup import setup_page
from browserfleet.node.pool import BrowserPool, PooledBrowser, close_context
from browserfleet.node.proxies import ProxyPool, ProxyUpstream
from browserfleet.node.steps import StepRunner
from browserfleet.node.warm import Ready, WarmContexts
from browserfleet.store.records import JobRecord

if TYPE_CHECKING:
    from browserfleet.node.parts import NodeParts
    from browserfleet.settings import Settings


log = structlog.get_logger(__name__)
T = TypeVar("T")

# The default load strategy: after `load`, wait (in the page, no polling from here) until no
# fetch/XHR is pending and none ended in the last SETTLE_QUIET_MS, at most SETTLE_CAP_MS.
SETTLE_QUIET_MS = 50
SETTLE_CAP_MS = 5000
_PENDING_SCRIPT = (resources.files("browserfleet.node") / "js" / "pending_requests.js").read_text()
_SETTLE = f"window.__bfSettle ? window.__bfSettle({SETTLE_QUIET_MS}, {SETTLE_CAP_MS}) : 0"
_CAPTURE = f"window.__bfCapture ? window.__bfCapture({SETTLE_QUIET_MS}, {SETTLE_CAP_MS}) : null"
_SERIALIZE = "window.__bfSerialize ? window.__bfSerialize() : null"
# the same as __bfSerialize where the helper is missing (a document the init script did not reach)
_SERIALIZE_HERE = """(() => {
  const doctype = document.doctype ? new XMLSerializer().serializeToString(document.doctype) : '';
  const root = document.documentElement ? document.documentElement.outerHTML : '';
  return { html: doctype + root, title: document.title, url: location.href };
})()"""
GZIP_OFF_LOOP_BYTES = 256 * 1024  # a larger HTML is compressed on a worker thread
VIEWPORT = {"width": 1366, "height": 768}
CRASH_GRACE_S = 1.0
LANE_ERRORS = (PlaywrightError, CDPError, CDPClosed, PageGone, ScriptError)  # a page operation failed


class Timings:
    def __init__(self) -> None:
        self.ms: dict[str, int] = {}

    def add(self, name: str, started: float) -> None:
        self.ms[name] = self.ms.get(name, 0) + round((time.perf_counter() - started) * 1000)

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, started)

    def breakdown(self) -> dict[str, int]:
        names = ("browserInit", "navigation", "loadStrategy", "captcha", "waitActions", "screenshot")
        out = {f"{n}Ms": self.ms.get(n, 0) for n in (*names, "htmlCapture")}
        out["totalMs"] = sum(out.values())
        return out


class RenderExecutor(Executor):
    kind = JobKind.RENDER

    def __init__(
        self,
        pool: BrowserPool,
        egress: EgressProxy,
        navigation_timeout_s: float,
        *,
        proxies: ProxyPool | None = None,
        captcha_solver: captcha.CaptchaSolver | None = None,
        places: dict[str, City] | None = None,
        warm_contexts: int = 0,
        warm_idle_s: float = 60.0,
    ) -> None:
        """``warm_contexts``: ready contexts of the warm shape per browser (0: none), discarded
        after ``warm_idle_s`` without a render taking one (node/warm.py)."""
        self.captcha_solver = captcha_solver
        self.pool = pool
        self.egress = egress
        self.navigation_timeout_ms = navigation_timeout_s * 1000
        self.proxies = proxies
        # node id → where that node browses from (its labels): a render that names no place is
        # emulated there and reports it as its selectedCity
        self.places = places or {}
        self.warm_place = self._node_place(None)
        self.warm = WarmContexts(pool, self._make_warm, per_browser=warm_contexts, idle_s=warm_idle_s)

    @classmethod
    def from_settings(cls, settings: Settings, parts: NodeParts) -> RenderExecutor:
        executor = cls(
            parts.pool,
            parts.egress,
            settings.render_navigation_timeout_s,
            proxies=parts.proxies,
            captcha_solver=captcha.build_solver(settings),
            places=node_places(settings),
            warm_contexts=settings.render_warm_contexts,
            warm_idle_s=settings.render_warm_idle_s,
        )
        executor.warm.start()  # before the first render arrives
        return executor

    async def close(self) -> None:
        await self.warm.close()

    async def run(self, job: JobRecord) -> Execution:
        spec = RenderSpec.model_validate(job.spec)
        asked = catalogue().city(spec.city) if spec.city else None  # the render's own place
        city = asked or self._node_place(job.node_id)
        timings = Timings()
        upstream = self._exit(job, spec, asked)  # a place of the node's own: no exit proxy
        with timings.phase("browserInit"):
            pooled, ctx, render = await self._start(job.id, spec, city, upstream, timings)
        try:
            execution = await render.run()
        except LANE_ERRORS as exc:
            raise await self._translate(pooled, exc) from exc
        finally:
            self.pool.release_later(pooled, ctx, render.channel.close)
        execution.result["geoExit"] = geo_exit(asked, upstream)
        return execution

    async def _start(
        self,
        job_id: str,
        spec: RenderSpec,
        city: City | None,
        upstream: ProxyUpstream | None,
        timings: Timings,
    ) -> tuple[PooledBrowser, BrowserContext | CDPPage, _RenderRun]:
        """The render's browser, its context (leased: the caller releases it) and its run."""
        limit_ms = self.navigation_timeout_ms
        if page_lane(spec):
            ready = await self._page_for(job_id, spec, city, upstream)
            setting = _Setting(spec, city, ready.channel, timings, limit_ms)
            return ready.pooled, ready.page, _PageRun(setting, ready.page)
        pooled, context, page, channel = await self._context_for(job_id, spec, city, upstream)
        setting = _Setting(spec, city, channel, timings, limit_ms)
        return pooled, context, _PlaywrightRun(setting, page, self.captcha_solver)

    async def _page_for(
        self, job_id: str, spec: RenderSpec, city: City | None, upstream: ProxyUpstream | None
    ) -> Ready:
        """A ready page when the render has the warm shape, else a new one; leased either way (the
        caller releases it)."""
        warm = upstream is None and spec.block_images and city == self.warm_place
        ready = await self.warm.take() if warm else None
        if ready is not None:
            ready.channel.assign(job_id)
            return ready
        return await self._on_leased(
            lambda pooled: self._make(pooled, job_id, city, upstream, block_images=spec.block_images)
        )

    async def _on_leased(self, make: Callable[[PooledBrowser], Awaitable[T]]) -> T:
        """``make`` on a browser leased for it; a failure releases the browser again (a page
        operation's failure translated: :meth:`_translate`)."""
        pooled = await self.pool.pick()
        self.pool.lease(pooled)
        try:
            return await make(pooled)
        except BaseException as exc:
            self.pool.release_later(pooled, None)
            if isinstance(exc, LANE_ERRORS):
                raise await self._translate(pooled, exc) from exc
            raise

    async def _context_for(
        self, job_id: str, spec: RenderSpec, city: City | None, upstream: ProxyUpstream | None
    ) -> tuple[PooledBrowser, BrowserContext, Page, EgressChannel]:
        """A new Playwright context, leased (the caller releases it), with its page and channel."""

        async def make(pooled: PooledBrowser) -> tuple[PooledBrowser, BrowserContext, Page, EgressChannel]:
            channel = await self.egress.open_channel(job_id, upstream=upstream)
            try:
                context = await self.pool.open(pooled, egress=channel, **context_options(city, channel))
                try:
                    page = await _render_page(context, city, block_images=spec.block_images)
                except BaseException:
                    await close_context(context)
                    raise
            except BaseException:
                await channel.close()
                raise
            return pooled, context, page, channel

        return await self._on_leased(make)

    async def _make_warm(self, pooled: PooledBrowser) -> Ready:
        return await self._make(pooled, "", self.warm_place)  # bound to its job when taken

    async def _make(
        self,
        pooled: PooledBrowser,
        job_id: str,
        city: City | None,
        upstream: ProxyUpstream | None = None,
        *,
        block_images: bool = True,
    ) -> Ready:
        """A new page in a context of its own on ``pooled``'s line, with its egress channel."""
        channel = await self.egress.open_channel(job_id, upstream=upstream)
        try:
            options = PageOptions(
                proxy_server=channel.server_url,
                viewport=(VIEWPORT["width"], VIEWPORT["height"]),
                place=city,
                block_images=block_images,
                init_script=_PENDING_SCRIPT,
            )
            page = await self.pool.open_page(pooled, options, egress=channel)
        except BaseException:
            await channel.close()
            raise
        return Ready(pooled, page, channel)

    async def _translate(self, pooled: PooledBrowser, exc: Exception) -> Exception:
        """A failed page operation: the browser's crash (the node retries the job) when the
        browser is gone or goes within :data:`CRASH_GRACE_S` — its two connections (Playwright's
        pipe, the node's DevTools line) notice its death one after the other —, else an internal
        error."""
        if await _dies(pooled, CRASH_GRACE_S):
            return BrowserCrashed(str(exc))
        log.warning("render.browser_error", error=str(exc).splitlines()[0][:300])
        return _unexpected(exc)

    def _node_place(self, node_id: str | None) -> City:
        """Where the node that runs the job browses from (this process's own node when unknown)."""
        place = self.places.get(node_id or "") or next(iter(self.places.values()), None)
        return place or catalogue().node_place(None, None)

    def _exit(self, job: JobRecord, spec: RenderSpec, city: City | None) -> ProxyUpstream | None:
        """The upstream proxy for a geo-targeted job (None: straight from this node)."""
        if city is None or self.proxies is None:
            return None
        return ProxyUpstream.for_job(
            self.proxies,
            job.project_id,
            city,
            force_new=spec.force_new_proxy,
            attempt_timeout=self.egress.connect_timeout / 2,
        )


def node_places(settings: Settings) -> dict[str, City]:
    """Where each node of this process browses from: its ``country``/``city`` labels as the
    catalogue knows them, else the documented default place (core/geo.py ``node_place``)."""
    geo = catalogue()
    places = {settings.node_id: geo.node_place(settings.node_country, settings.node_city)}
    for node in settings.local_nodes:
        places[node.id] = geo.node_place(node.country, node.city)
    return places


async def _render_page(context: BrowserContext, city: City | None, *, block_images: bool) -> Page:
    await context.add_init_script(script=_PENDING_SCRIPT)
    page = await context.new_page()
    accept_language = city.accept_language if city else None
    await setup_page(page, block_images=block_images, accept_language=accept_language)
    return page


def context_options(city: City | None, channel: EgressChannel) -> dict[str, Any]:
    options: dict[str, Any] = {
        "proxy": {"server": channel.server_url},
        "viewport": VIEWPORT,
        "service_workers": "block",
    }
    if city:
        options |= {
            "timezone_id": city.timezone,
            "locale": city.locale,
            "geolocation": {"latitude": city.latitude, "longitude": city.longitude, "accuracy": 50},
            "permissions": ["geolocation"],
            "extra_http_headers": {"Accept-Language": city.accept_language},
        }
    return options


async def _dies(pooled: PooledBrowser, within_s: float) -> bool:
    """Is ``pooled`` gone, or gone within ``within_s``?"""
    deadline = time.monotonic() + within_s
    while pooled.alive and not (pooled.line is not None and pooled.line.closed):
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(0.05)
    return True


def page_lane(spec: RenderSpec) -> bool:
    """Does the render run on the page lane (module doc)?"""
    return (
        spec.captcha == "disabled"
        and spec.screenshot is None
        and not spec.fetch_urls
        and all(runs_on_cdp(action) for action in spec.wait_for)
    )


def _unexpected(exc: Exception) -> Exception:
    return JobFailure(ErrorCode.INTERNAL_ERROR, f"browser error: {str(exc).splitlines()[0]}")


@dataclass(frozen=True)
class _Setting:
    """What a render's run works with, whatever its lane."""

    spec: RenderSpec
    city: City | None
    channel: EgressChannel
    timings: Timings
    navigation_timeout_ms: float


class _RenderRun:
    """One render, phase by phase (kept apart from the executor so each phase stays small); the
    page operations are its lane's (:class:`_PlaywrightRun`, :class:`_PageRun`)."""

    def __init__(self, setting: _Setting) -> None:
        self.spec = setting.spec
        self.city = setting.city
        self.channel = setting.channel
        self.timings = setting.timings
        self.navigation_timeout_ms = setting.navigation_timeout_ms
        self.blobs: dict[str, bytes] = {}
        self.title = ""  # the page's <title>, as text (the console's lists show it)
        self.final_url = ""
        self.settled = setting.spec.load_strategy == "custom"  # custom waits replace the settle step

    # the lane's page operations

    async def _goto(self) -> str | None:
        """Load the URL until ``load``; the egress proxy's own answer for the document, if it
        made one. Raises NavigationFailed (a network error), TimeoutError (no ``load`` in time)."""
        raise NotImplementedError

    async def _evaluate(self, expression: str) -> Any:
        raise NotImplementedError

    async def _act(self, action: a.Action) -> Any:
        raise NotImplementedError

    async def _serialize_here(self) -> dict[str, Any]:
        """The document, its title and URL without the in-page helper."""
        raise NotImplementedError

    async def _handle_captcha(self) -> captcha.CaptchaOutcome:
        return captcha.CaptchaOutcome(None)

    # the phases

    async def run(self) -> Execution:
        await self._navigate()
        await self._load()
        solved = await self._handle_captcha()
        await self._wait_actions()
        await self._screenshot()
        fetched = await self._fetch_urls()
        await self._capture_html()
        return Execution(result=self._result(solved, fetched), blobs=self.blobs)

    async def _navigate(self) -> None:
        host = urlsplit(self.spec.url).hostname or ""
        with self.timings.phase("navigation"):
            egress = await self._navigation(host)
        if egress == "blocked":
            self._raise_if_blocked(host, force=True)
        if egress == "upstream-error":  # the proxy could not reach the site: no page to render
            raise self._unreachable(host, "connection failed")

    async def _navigation(self, host: str) -> str | None:
        try:
            return await self._goto()
        except TimeoutError as exc:
            if await self._document_parsed():
                return None  # the document is there but `load` never came: render it as it stands
            seconds = self.navigation_timeout_ms / 1000
            message = f"Navigation to {self.spec.url} timed out after {seconds:g}s"
            raise JobFailure(ErrorCode.NAVIGATION_FAILED, message) from exc
        except NavigationFailed as exc:
            self._raise_if_blocked(host)
            raise self._unreachable(host, exc.reason) from exc
        except LANE_ERRORS:
            self._raise_if_blocked(host)
            raise

    def _unreachable(self, host: str, fallback: str) -> JobFailure:
        detail = self.channel.stats.upstream_failures.get(host)
        why = f"could not reach {host}: {detail}" if detail else fallback
        code = ErrorCode.PROXY_UNAVAILABLE if self.channel.upstream.exhausted else ErrorCode.NAVIGATION_FAILED
        return JobFailure(code, f"{why} (loading {self.spec.url})")

    def _raise_if_blocked(self, host: str, force: bool = False) -> None:
        attempt = self.channel.blocked_host(host)
        if attempt or force:
            where = f"{host} ({attempt.ip})" if attempt and attempt.ip else host
            raise JobFailure(ErrorCode.EGRESS_BLOCKED, f"Egress to {where} is blocked by the egress policy")

    async def _document_parsed(self) -> bool:
        try:
            return bool(await self._evaluate("document.readyState !== 'loading'"))
        except LANE_ERRORS:
            return False

    async def _load(self) -> None:
        """Settle now only if something must see the settled page before the HTML is captured;
        otherwise settling and capturing share one round trip (``_capture_html``)."""
        spec = self.spec
        if self.settled or not (spec.captcha != "disabled" or spec.screenshot or spec.fetch_urls):
            return
        with self.timings.phase("loadStrategy"):
            await self._evaluate(_SETTLE)
        self.settled = True

    async def _wait_actions(self) -> None:
        with self.timings.phase("waitActions"):
            for action in self.spec.wait_for:
                await self._act(action)

    async def _screenshot(self) -> None:
        shot = self.spec.screenshot
        if shot is None:
            return
        with self.timings.phase("screenshot"):
            act = a.Screenshot(format=shot.format, quality=shot.quality, full_page=shot.full_page)
            self.blobs["screenshot"] = await self._act(act)

    async def _fetch_urls(self) -> int:
        if not self.spec.fetch_urls:
            return 0
        fetches = (self._act(a.Fetch(url=url, timeout_ms=30_000)) for url in self.spec.fetch_urls)
        results = await asyncio.gather(*fetches)
        self.blobs["fetch.json.gz"] = gzip.compress(json.dumps(results).encode(), compresslevel=6)
        return len(results)

    async def _capture_html(self) -> None:
        """The document, its title and URL in one round trip (settling first unless already
        settled); without the in-page helper, the lane's own way."""
        started = time.perf_counter()
        captured = await self._evaluate(_SERIALIZE if self.settled else _CAPTURE)
        if captured is None:
            captured = await self._serialize_here()
        elif "settleMs" in captured:
            self.timings.ms["loadStrategy"] = int(captured["settleMs"])
            started += captured["settleMs"] / 1000
        html, self.title, self.final_url = captured["html"], captured["title"], captured["url"]
        self.timings.add("htmlCapture", started)
        self.blobs["html.gz"] = await _gzip(html.encode("utf-8"))

    def _result(self, solved: captcha.CaptchaOutcome, fetched: int) -> dict[str, Any]:
        captcha_info = solved.report()
        stats = self.channel.stats
        return {
            "loadStrategy": self.spec.load_strategy,
            "selectedCity": selected_city(self.city),
            "bandwidthMetrics": {
                "networkBytes": stats.bytes_received,
                "cachedBytes": 0,
                "cacheHitRate": "0.0%",
            },
            "captcha": captcha_info,
            "timingBreakdown": self.timings.breakdown(),
            "screenshotFormat": self.spec.screenshot.format if self.spec.screenshot else None,
            "fetchCount": fetched,
            "finalUrl": self.final_url,
            "title": self.title,
        }


class _PlaywrightRun(_RenderRun):
    """The Playwright lane: a Playwright page, its actions run by the step runner."""

    def __init__(
        self, setting: _Setting, page: Page, captcha_solver: captcha.CaptchaSolver | None = None
    ) -> None:
        super().__init__(setting)
        self.page = page
        self.captcha_solver = captcha_solver
        self.runner = StepRunner(page, captcha_solver=captcha_solver)

    async def _goto(self) -> str | None:
        try:
            response = await self.page.goto(
                self.spec.url, wait_until="load", timeout=self.navigation_timeout_ms
            )
        except PlaywrightTimeout as exc:
            raise TimeoutError(str(exc)) from exc
        except PlaywrightError as exc:
            if "net::ERR_" not in str(exc):
                raise
            raise NavigationFailed(str(exc).split("net::", 1)[1].split()[0]) from exc
        return response.headers.get(EGRESS_HEADER.lower()) if response is not None else None

    async def _evaluate(self, expression: str) -> Any:
        return await self.page.evaluate(expression)

    async def _act(self, action: a.Action) -> Any:
        return await self.runner.run(action)

    async def _serialize_here(self) -> dict[str, Any]:
        return {"html": await self.page.content(), "title": await self.page.title(), "url": self.page.url}

    async def _capture_html(self) -> None:
        await super()._capture_html()
        self.final_url = self.page.url  # Playwright's own record of the main frame's URL

    async def _handle_captcha(self) -> captcha.CaptchaOutcome:
        """Detect, and in a solving mode with a solver configured solve and inject (node/captcha/)."""
        if self.spec.captcha == "disabled":
            return captcha.CaptchaOutcome(None)
        # leave the render time to finish (5 s) so a slow solver ends as CAPTCHA_TIMEOUT (not billed),
        # not as the billable RENDER_TIMEOUT
        budget_s = max(1.0, self.spec.timeout_s - sum(self.timings.ms.values()) / 1000 - 5.0)
        with self.timings.phase("captcha"):
            return await captcha.handle(self.page, self.spec.captcha, self.captcha_solver, timeout_s=budget_s)


class _PageRun(_RenderRun):
    """The page lane: a page on the browser's DevTools line (node/cdp_page.py)."""

    def __init__(self, setting: _Setting, page: CDPPage) -> None:
        super().__init__(setting)
        self.page = page
        self.waits = CDPWaits(page)

    async def _goto(self) -> str | None:
        await self.page.navigate(self.spec.url, self.navigation_timeout_ms / 1000)
        return self.page.egress_answer

    async def _evaluate(self, expression: str) -> Any:
        return await self.page.evaluate(expression)

    async def _act(self, action: a.Action) -> Any:
        return await self.waits.run(action)

    async def _serialize_here(self) -> dict[str, Any]:
        captured: dict[str, Any] = await self.page.evaluate(_SERIALIZE_HERE)
        return captured


async def _gzip(data: bytes) -> bytes:
    if len(data) < GZIP_OFF_LOOP_BYTES:
        return gzip.compress(data, compresslevel=6)
    return await asyncio.to_thread(gzip.compress, data, 6)


def geo_exit(city: City | None, upstream: ProxyUpstream | None) -> dict[str, Any] | None:
    """``geoExit``: where the traffic of a geo-targeted render left (None without a place).

    ``proxied`` false means emulation only: no exit proxy serves the place, the traffic left from
    the node's own network. Never carries the proxy URL or credentials.
    """
    if city is None:
        return None
    if upstream is None:
        return {"proxied": False, "proxy": None, "country": None, "city": None, "failovers": 0}
    return {"proxied": True, **upstream.describe(), "failovers": upstream.failovers}


def selected_city(city: City | None) -> dict[str, Any] | None:
    if city is None:
        return None
    return {
        "name": city.name,
        "displayName": city.display_name,
        "latitude": city.latitude,
        "longitude": city.longitude,
        "timezoneId": city.timezone,
    }
