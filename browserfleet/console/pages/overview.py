"""The overview: balance and quota, usage over time as charts, what runs now, recent failures."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from browserfleet.console.charts import Chart, bar_chart
from browserfleet.console.web import FleetDep, ProjectDep, render
from browserfleet.core.billing import balance, format_cents
from browserfleet.core.jobs import JobKind, utcnow
from browserfleet.store.repo.listing import DayUsage

router = APIRouter()
DAYS = 14
FAILURE_WINDOW = timedelta(days=7)


@router.get("/")
async def overview(request: Request, project: ProjectDep, fleet: FleetDep) -> HTMLResponse:
    now = utcnow()
    since = (now - timedelta(days=DAYS - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
    days = [(since + timedelta(days=i)).date().isoformat() for i in range(DAYS)]
    by_kind = await fleet.store.usage_by_day(project.id, since)
    usage = {kind: by_kind[kind.value] for kind in JobKind}
    money = await balance(fleet.store, project.id)
    return render(
        request,
        "overview.html",
        balance=format_cents(money.total),
        breakdown={k: format_cents(v) for k, v in money.by_kind.items()},
        quota=await fleet.runs.usage(project),
        charts=_charts(days, usage),
        activity=await fleet.store.activity(project.id, now - FAILURE_WINDOW),
    )


def _charts(days: list[str], usage: dict[JobKind, list[DayUsage]]) -> list[Chart]:
    def series(kinds: tuple[JobKind, ...], pick: str) -> list[tuple[str, float]]:
        by_day: dict[str, float] = dict.fromkeys(days, 0.0)
        for kind in kinds:
            for day in usage[kind]:
                if day.day in by_day:
                    by_day[day.day] += float(getattr(day, pick))
        return [(d[5:], v) for d, v in by_day.items()]

    all_kinds = tuple(JobKind)
    return [
        bar_chart("Renders", "renders", series((JobKind.RENDER,), "jobs")),
        bar_chart("Browser minutes", "min", series((JobKind.SESSION,), "minutes")),
        bar_chart("Proxy bytes", "bytes", series(all_kinds, "proxy_bytes")),
        bar_chart("Automation runs", "runs", series((JobKind.STEPS,), "jobs")),
        bar_chart("Browsing tasks", "tasks", series((JobKind.AGENT,), "jobs")),
    ]
