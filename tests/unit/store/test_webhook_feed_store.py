"""Store queries of webhook deliveries and feeds on SQLite and PostgreSQL: one delivery per run,
claims that exclude each other until their lease ends, attempts appended in order, the run read
with its delivery, and a task's finished runs."""

from __future__ import annotations

from datetime import timedelta

from browserfleet.core.jobs import JobState, utcnow
from browserfleet.store.records import JobOutcome, TaskRecord, WebhookDeliveryRecord
from browserfleet.store.repo import Store
from tests.support.stores import new_project


async def _run(store: Store, project_id: str, task_id: str, run_id: str, *, finish: JobState | None) -> None:
    await store.insert_task_run(
        job_id=run_id,
        project_id=project_id,
        task_id=task_id,
        spec={},
        webhook_url="http://h/x",
        metadata=None,
    )
    if finish is not None:
        await store.claim_job(run_id, "node")
        await store.finish_job(run_id, JobOutcome(finish, result={"outputs": {"a_save_text": run_id}}))


async def test_deliveries_claims_attempts_and_feeds_queries(store: Store) -> None:
    project = await new_project(store)
    now = utcnow()
    task = TaskRecord("task1", project.id, "t", 1024, 768, [], now, now)
    await store.create_task(task)
    await _run(store, project.id, "task1", "run_a", finish=JobState.COMPLETED)
    await _run(store, project.id, "task1", "run_b", finish=JobState.FAILED)
    await _run(store, project.id, "task1", "run_c", finish=None)

    missing = await store.runs_without_webhook_delivery(now - timedelta(minutes=1), 10)
    assert {r.job.id for r in missing} == {"run_a", "run_b"}  # ended, no delivery yet

    delivery = WebhookDeliveryRecord("run_a", project.id, "http://h/x", "{}", "pending", (), now, now)
    assert await store.add_webhook_delivery(delivery) is True
    assert await store.add_webhook_delivery(delivery) is False  # one per run
    assert await store.next_webhook_due() == now

    lease = now + timedelta(seconds=40)
    [claimed] = await store.claim_webhook_deliveries(utcnow(), lease, 10)
    assert claimed.run_id == "run_a"
    assert await store.claim_webhook_deliveries(utcnow(), lease, 10) == []  # leased
    assert await store.next_webhook_due() == lease

    retry_at = utcnow() + timedelta(seconds=2)
    await store.record_webhook_attempt("run_a", {"attempt": 1, "status_code": 500}, "pending", retry_at)
    await store.record_webhook_attempt("run_a", {"attempt": 2, "status_code": 200}, "delivered", None)
    run = await store.get_task_run("run_a")
    assert run is not None and run.webhook_state == "delivered"
    assert [a["status_code"] for a in run.webhook_attempts] == [500, 200]
    assert await store.next_webhook_due() is None
    assert {r.job.id for r in await store.runs_without_webhook_delivery(now - timedelta(minutes=1), 10)} == {
        "run_b"
    }

    finished = await store.finished_task_runs("task1", limit=10)
    assert [r.job.id for r in finished] == ["run_a"]
    last = await store.last_finished_at(["task1", "other"])
    assert set(last) == {"task1"} and last["task1"] == finished[0].job.finished_at
