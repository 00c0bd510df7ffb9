"""The render service: admit and queue renders, read them back within the API window."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from browserfleet.core.accounts import new_id
from browserfleet.core.admission import Admission
from browserfleet.core.errors import InvalidRequest, NotFound
from browserfleet.core.exits import ExitDirectory
from browserfleet.core.geo import City, catalogue
from browserfleet.core.jobs import JobKind, Route, RouteKind, utcnow
from browserfleet.core.lifecycle import finished_record, wait_for_event
from browserfleet.core.renders.spec import RenderSpec
from browserfleet.dispatch.base import Dispatcher, Ticket
from browserfleet.store.blobs import BlobStore
from browserfleet.store.records import JobRecord, ProjectRecord
from browserfleet.store.repo import Store
from browserfleet.store.repo.listing import JobFilter, JobPage

if TYPE_CHECKING:
    from browserfleet.settings import Settings


@dataclass(frozen=True)
class RenderPolicy:
    timeout_cap_s: float = 120.0
    api_retention: timedelta = timedelta(hours=24)
    debug_retention: timedelta = timedelta(days=7)
    require_geo_proxy: bool = False

    @classmethod
    def from_settings(cls, settings: Settings) -> RenderPolicy:
        s = settings
        return cls(
            timeout_cap_s=s.render_timeout_s,
            api_retention=timedelta(hours=s.api_retention_hours),
            debug_retention=timedelta(days=s.debug_retention_days),
            require_geo_proxy=s.require_geo_proxy,
        )


@dataclass(frozen=True)
class RenderView:
    job: JobRecord
    html_gz: bytes | None = None
    screenshot: bytes | None = None
    fetch_gz: bytes | None = None


class Renders:
    def __init__(
        self,
        store: Store,
        blobs: BlobStore,
        dispatcher: Dispatcher,
        admission: Admission,
        policy: RenderPolicy,
        *,
        exits: ExitDirectory | None = None,
    ) -> None:
        self.store = store
        self.blobs = blobs
        self.dispatcher = dispatcher
        self.admission = admission
        self.policy = policy
        self.exits = exits

    def check_exit(self, city: City | None, *, field: str) -> None:
        """With ``require_geo_proxy``: a 400 naming ``field`` when no exit proxy serves ``city``."""
        if city is None or not self.policy.require_geo_proxy:
            return
        if self.exits is not None and self.exits.serves(city):
            return
        place = city.country if field == "countryCode" else f"{city.name} ({city.country})"
        message = f"No exit proxy for {place}"
        raise InvalidRequest(message, details=[{"field": field, "message": message}])

    async def create(self, project: ProjectRecord, spec: RenderSpec) -> JobRecord:
        timeout_s = min(float(project.default_timeout_s), self.policy.timeout_cap_s)
        spec = spec.model_copy(update={"timeout_s": timeout_s})
        keep = self.policy.debug_retention if spec.debug else self.policy.api_retention
        route = await self._route(spec)
        async with self.admission.admit(project, JobKind.RENDER):
            job = await self.store.insert_job(
                job_id=new_id("ren"),
                project_id=project.id,
                kind=JobKind.RENDER,
                route=route,
                spec=spec.model_dump(mode="json"),
                keep_blobs_days=keep.total_seconds() / 86400,
            )
        await self.dispatcher.submit(Ticket(job.id, project.id, job.kind, job.route))
        return job

    async def _route(self, spec: RenderSpec) -> Route:
        """A geo-targeted render runs on a node labelled with its country when one is live (the
        node's ``country``, e.g. ``browserfleet node --country DE``); otherwise on any node,
        through an exit proxy for the place (node/proxies/)."""
        city = catalogue().city(spec.city) if spec.city else None
        if city is None:
            return Route()
        nodes = await self.dispatcher.registry.nodes()
        if any(node.labels.country == city.country for node in nodes):
            return Route(RouteKind.COUNTRY, city.country)
        return Route()

    async def get(self, project: ProjectRecord, render_id: str) -> RenderView:
        return await self._view(await self._visible(project, render_id))

    async def _view(self, job: JobRecord) -> RenderView:
        if not job.state.terminal or job.result is None:
            return RenderView(job)
        names = set(job.result.get("blobs", ()))
        html, shot, fetched = await asyncio.gather(
            self._blob(job, names, "html.gz"),
            self._blob(job, names, "screenshot"),
            self._blob(job, names, "fetch.json.gz"),
        )
        return RenderView(job, html_gz=html, screenshot=shot, fetch_gz=fetched)

    async def page(
        self, project: ProjectRecord, filters: JobFilter, *, country: str | None, offset: int, limit: int
    ) -> JobPage:
        """A page of the project's renders within the API window (those :meth:`get` shows), newest
        first; ``country``: geo-targeted at one of its cities."""
        cities = tuple(c.name for c in catalogue().cities(country)) if country else None
        since = utcnow() - self.policy.api_retention
        narrowed = replace(filters, cities=cities, created_after=since)
        return await self.store.page_jobs(project.id, JobKind.RENDER, narrowed, offset=offset, limit=limit)

    async def wait(self, project: ProjectRecord, render_id: str, timeout_s: float) -> RenderView:
        """Like :meth:`get`, but first waits up to ``timeout_s`` for the render to finish. A
        render that ended in this process is answered from its finish event, without reading it
        back from the store."""
        subscription = self.dispatcher.subscribe([render_id])
        try:
            job = await self._visible(project, render_id)
            if job.state.terminal:
                return await self._view(job)
            if timeout_s > 0:
                finished = finished_record(await wait_for_event(subscription, {render_id}, timeout_s))
                if finished is not None:
                    return await self._view(finished)
        finally:
            await subscription.close()
        return await self.get(project, render_id)

    def visible_until(self, job: JobRecord) -> datetime:
        """When the render leaves the API window (a 404 from then on)."""
        return job.created_at + self.policy.api_retention

    async def _visible(self, project: ProjectRecord, render_id: str) -> JobRecord:
        job = await self.store.get_job(render_id)
        expired = job is not None and job.created_at < utcnow() - self.policy.api_retention
        if job is None or job.project_id != project.id or job.kind is not JobKind.RENDER or expired:
            raise NotFound("Render not found")
        return job

    async def _blob(self, job: JobRecord, names: set[str], name: str) -> bytes | None:
        if name not in names or job.blobs_purged:
            return None
        return await self.blobs.get(job.id, name)
