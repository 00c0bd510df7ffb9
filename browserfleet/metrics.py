"""Prometheus metrics, one registry per fleet (several fleets may share a process in tests)."""

from __future__ import annotations

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

    def job_finished(self, job: JobRecord, seconds: float) -> None:
        self.jobs.labels(job.kind.value, job.state.value, job.error_code or "").inc()
        self.duration.labels(job.kind.value).observe(seconds)

    def observe(self, pressure: Pressure, browser_launches: int | None) -> None:
        """The gauges of ``GET /pressure``'s figures (refreshed whenever they are read)."""
        self.queued.set(pressure.queued)
        self.running.set(pressure.running)
        self.slots.set(pressure.slots)
        if browser_launches is not None:
            self.browser_launches.set(browser_launches)

    def render(self) -> bytes:
        return generate_latest(self.registry)
