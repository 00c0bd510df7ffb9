"""Paged, filtered lists of a project's jobs and their aggregates over time: what the web console
shows (browserfleet/console/). Every list is cut on the server (``offset``/``limit``) and counted
in the same snapshot, so a page never loads more rows than it shows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, String, cast, func, or_, select, true

from browserfleet.core.jobs import ACTIVE_STATES, JobKind, JobState
from browserfleet.store.models import JobRow
from browserfleet.store.records import JobRecord
from browserfleet.store.repo.base import StoreBase, _job, _utc


@dataclass(frozen=True)
class JobFilter:
    """What a list of jobs is narrowed to. ``url``: a substring of the spec's ``url``;
    ``cities``: the spec's ``city`` is one of these (a country's, for a render); ``min_ms``/``max_ms``:
    the run time its timings recorded; ``charged``: charged (True) or not (False);
    ``created_after``: only jobs created since then."""

    states: tuple[JobState, ...] = ()
    url: str | None = None
    error_code: str | None = None
    error_codes_in: tuple[str, ...] | None = None  # failed with one of these codes
    error_codes_not_in: tuple[str, ...] | None = None  # with none of these (or no code)
    cities: tuple[str, ...] | None = None
    min_ms: int | None = None
    max_ms: int | None = None
    charged: bool | None = None
    created_after: datetime | None = None
    lead_only: bool = False  # a fanned-out browsing task: its first attempt only (the task)
    # candidates for a session list's metadata query: (path under user_metadata, value) clauses;
    # a narrowing only, the caller still decides each row (core/sessions/service.py)
    metadata: tuple[tuple[tuple[str, ...], str], ...] = ()


@dataclass(frozen=True)
class JobPage:
    """One page of a list: its rows (newest first) and how many match in all."""

    jobs: list[JobRecord]
    total: int


@dataclass(frozen=True)
class DayUsage:
    """A project's jobs of one kind finished on one day (UTC): count, browser minutes, proxy bytes."""

    day: str
    jobs: int = 0
    minutes: float = 0.0
    proxy_bytes: int = 0


@dataclass
class Activity:
    """What a project runs now: active jobs by kind and state; recent failures by error code."""

    active: dict[str, dict[str, int]] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)


# the kinds whose executors record browser minutes and proxy bytes in their results
METERED = (JobKind.SESSION, JobKind.FETCH)


class ListingQueries(StoreBase):
    async def page_jobs(
        self, project_id: str, kind: JobKind, filters: JobFilter, *, offset: int, limit: int
    ) -> JobPage:
        """A page of the project's jobs of ``kind`` matching ``filters``, newest first."""
        where = [JobRow.project_id == project_id, JobRow.kind == kind.value, *self._conditions(filters)]
        rows = select(JobRow).where(*where).order_by(JobRow.created_at.desc(), JobRow.id).offset(offset)
        count = select(func.count()).select_from(JobRow).where(*where)
        async with self._read() as session:
            total = int(await session.scalar(count) or 0)
            jobs = [_job(r) for r in await session.scalars(rows.limit(limit))]
        return JobPage(jobs, total)

    def _conditions(self, filters: JobFilter) -> list[ColumnElement[bool]]:
        return [*_what(filters), *_outcome(filters)]

    async def jobs_matching(
        self, project_id: str, kind: JobKind, filters: JobFilter, *, limit: int
    ) -> list[JobRecord]:
        """The project's jobs of ``kind`` matching ``filters``, newest first (at most ``limit``)."""
        where = [JobRow.project_id == project_id, JobRow.kind == kind.value, *self._conditions(filters)]
        query = select(JobRow).where(*where).order_by(JobRow.created_at.desc(), JobRow.id).limit(limit)
        async with self._read() as session:
            return [_job(r) for r in await session.scalars(query)]

    async def job_specs(
        self, project_id: str, kind: JobKind, filters: JobFilter, *, limit: int
    ) -> list[tuple[str, dict[str, Any]]]:
        """``(id, spec)`` of the project's jobs of ``kind`` matching ``filters``, newest first: what
        a filter in Python reads, without the rest of each row."""
        where = [JobRow.project_id == project_id, JobRow.kind == kind.value, *self._conditions(filters)]
        query = (
            select(JobRow.id, JobRow.spec)
            .where(*where)
            .order_by(JobRow.created_at.desc(), JobRow.id)
            .limit(limit)
        )
        async with self._read() as session:
            return [(str(i), dict(spec or {})) for i, spec in (await session.execute(query)).all()]

    async def usage_by_day(
        self, project_id: str, since: datetime, metered: tuple[JobKind, ...] = METERED
    ) -> dict[str, list[DayUsage]]:
        """Per kind of job and per day (UTC) of creation since ``since``: how many the project
        started and, for the ``metered`` kinds (those whose executors record them), the browser
        minutes and proxy bytes of those that finished."""
        day = func.substr(cast(JobRow.created_at, String), 1, 10)
        mine = (JobRow.project_id == project_id, JobRow.created_at >= since)
        counts = (
            select(JobRow.kind, day, func.count())
            .where(*mine, JobRow.kind.in_([k.value for k in JobKind]))
            .group_by(JobRow.kind, day)
        )
        sums = (
            select(
                JobRow.kind,
                day,
                func.coalesce(func.sum(JobRow.result["browserMinutes"].as_float()), 0.0),
                func.coalesce(func.sum(JobRow.result["proxyBytes"].as_integer()), 0),
            )
            .where(*mine, JobRow.kind.in_([k.value for k in metered]), JobRow.finished_at.is_not(None))
            .group_by(JobRow.kind, day)
        )
        async with self._read() as session:
            counted = (await session.execute(counts)).all()
            summed = {
                (str(k), str(d)): (float(m or 0), int(b or 0)) for k, d, m, b in await session.execute(sums)
            }
        found: dict[str, list[DayUsage]] = {kind.value: [] for kind in JobKind}
        for kind, d, n in sorted(counted, key=lambda row: str(row[1])):
            minutes, proxy_bytes = summed.get((str(kind), str(d)), (0.0, 0))
            found[str(kind)].append(DayUsage(str(d), int(n), minutes, proxy_bytes))
        return found

    async def activity(self, project_id: str, failures_since: datetime) -> Activity:
        """Active jobs of the project by kind and state, and its failures since ``failures_since``
        by error code."""
        active = (
            select(JobRow.kind, JobRow.state, func.count())
            .where(JobRow.project_id == project_id, JobRow.state.in_([s.value for s in ACTIVE_STATES]))
            .group_by(JobRow.kind, JobRow.state)
        )
        failed = (
            select(func.coalesce(JobRow.error_code, "UNKNOWN"), func.count())
            .where(
                JobRow.project_id == project_id,
                JobRow.state == JobState.FAILED.value,
                JobRow.created_at >= failures_since,
            )
            .group_by(JobRow.error_code)
        )
        found = Activity()
        async with self._read() as session:
            for kind, state, n in (await session.execute(active)).all():
                found.active.setdefault(kind, {})[state] = int(n)
            for code, n in (await session.execute(failed)).all():
                found.failures[str(code)] = int(n)
        return found

    async def oldest_job_at(self, project_id: str) -> datetime | None:
        query = select(func.min(JobRow.created_at)).where(JobRow.project_id == project_id)
        async with self._read() as session:
            found = await session.scalar(query)
        return _utc(found) if found is not None else None


def _what(filters: JobFilter) -> list[ColumnElement[bool]]:
    """Conditions on what the job was asked (its spec) and when."""
    out: list[ColumnElement[bool]] = []
    if filters.url:
        out.append(JobRow.spec["url"].as_string().contains(filters.url, autoescape=True))
    if filters.cities is not None:
        out.append(JobRow.spec["city"].as_string().in_(filters.cities))
    if filters.lead_only:
        out.append(JobRow.spec["task_id"].as_string() == JobRow.id)
    out.extend(_metadata_candidate(keys, value) for keys, value in filters.metadata)
    if filters.created_after is not None:
        out.append(JobRow.created_at >= filters.created_after)
    return out


def _outcome(filters: JobFilter) -> list[ColumnElement[bool]]:
    """Conditions on how the job went: state, error code, charge, run time."""
    out: list[ColumnElement[bool]] = []
    if filters.states:
        out.append(JobRow.state.in_([s.value for s in filters.states]))
    if filters.error_code:
        out.append(JobRow.error_code == filters.error_code)
    if filters.error_codes_in is not None:
        out.append(JobRow.error_code.in_(filters.error_codes_in))
    if filters.error_codes_not_in is not None:
        out.append(or_(JobRow.error_code.is_(None), JobRow.error_code.not_in(filters.error_codes_not_in)))
    if filters.charged is not None:
        out.append(JobRow.charged_cents > 0 if filters.charged else JobRow.charged_cents == 0)
    total_ms = JobRow.result["timingBreakdown"]["totalMs"].as_float()
    if filters.min_ms is not None:
        out.append(total_ms >= filters.min_ms)
    if filters.max_ms is not None:
        out.append(total_ms <= filters.max_ms)
    return out


_NOT_TEXT = re.compile(r"^(true|false|-?[0-9][0-9.eE+-]*)$")


def _metadata_candidate(keys: tuple[str, ...], value: str) -> ColumnElement[bool]:
    """Rows whose ``user_metadata`` may hold ``value`` at ``keys``: the text itself, or — for a value
    that could be a JSON number or boolean, which the databases print their own way — any value
    (``None``, which a JSON null matches, narrows nothing)."""
    if value == "None":
        return true()
    found = JobRow.spec[("user_metadata", *keys)]
    condition: ColumnElement[bool] = (
        found.is_not(None) if _NOT_TEXT.match(value) else found.as_string() == value
    )
    return condition
