"""Prometheus metrics, one registry per fleet (several fleets may share a process in tests)."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from browserfleet.core.pressure import Pressure
from browserfleet.store.records import JobRecord


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.jobs = Counter(
            "browserfleet_jobs_total",
            "Jobs finished, by kind, state and error code",
            ["kind", "state", "error_code"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "browserfleet_job_duration_seconds",
            "Wall time a node spent on a job",
            ["kind"],
            buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120),
            registry=self.registry,
        )
        self.queued = Gauge("browserfleet_jobs_queued", "Tickets waiting for a node", registry=self.registry)
        self.running = Gauge("browserfleet_jobs_running", "Jobs on nodes right now", registry=self.registry)
        self.slots = Gauge("browserfleet_node_slots", "Job slots across nodes", registry=self.registry)
        self.browser_launches = Gauge(
            "browserfleet_browser_launches", "Chromium processes launched", registry=self.registry
        )
        self.kind_running = Gauge(
            "browserfleet_kind_running", "Jobs on nodes right now, by kind", ["kind"], registry=self.registry
        )
        self.kind_queued = Gauge(
            "browserfleet_kind_queued",
            "Tickets waiting for a node, by kind",
            ["kind"],
            registry=self.registry,
        )
        self.max_queued = Gauge(
            "browserfleet_max_queued", "Queue bound (429 past it)", registry=self.registry
        )
        self.accepting = Gauge(
            "browserfleet_accepting", "1 while the fleet takes new work", registry=self.registry
        )
        self.sessions = Gauge("browserfleet_sessions_live", "Live sessions", registry=self.registry)
        self.session_limit = Gauge(
            "browserfleet_sessions_limit", "Live sessions the fleet could hold now", registry=self.registry
        )
        self.cpu_cores = Gauge("browserfleet_cpu_cores", "CPU cores of the fleet", registry=self.registry)
        self.cpu_used = Gauge(
            "browserfleet_cpu_used_percent", "CPU use of the fleet's machines", registry=self.registry
        )
        self.memory = Gauge(
            "browserfleet_memory_bytes",
            "Memory of the fleet's machines: total, available, floor, browsers (PSS)",
            ["kind"],
            registry=self.registry,
        )

    def job_finished(self, job: JobRecord, seconds: float) -> None:
        self.jobs.labels(job.kind.value, job.state.value, job.error_code or "").inc()
        self.duration.labels(job.kind.value).observe(seconds)

    def observe(self, pressure: Pressure, browser_launches: int | None) -> None:
        """The gauges of ``GET /pressure``'s figures (refreshed whenever they are read)."""
        self.queued.set(pressure.queued)
        self.running.set(pressure.running)
        self.slots.set(pressure.slots)
        self.max_queued.set(pressure.max_queued)
        self.accepting.set(1 if pressure.accepting else 0)
        if browser_launches is not None:
            self.browser_launches.set(browser_launches)
        view = pressure.to_json()
        for kind, figures in _dict(view["kinds"]).items():
            self.kind_running.labels(kind).set(_dict(figures)["running"])
            self.kind_queued.labels(kind).set(_dict(figures)["queued"])
        sessions = _dict(view["sessions"])
        self.sessions.set(sessions["running"])
        self.session_limit.set(sessions["limit"])
        cpu = _dict(view["cpu"])
        self.cpu_cores.set(cpu["cores"])
        self.cpu_used.set(cpu["usedPercent"])
        for name, value in _dict(view["memory"]).items():
            self.memory.labels(name.removesuffix("MB")).set(value * 1024 * 1024)

    def render(self) -> bytes:
        return generate_latest(self.registry)


def _dict(value: object) -> dict[str, Any]:
    assert isinstance(value, dict)
    return value
