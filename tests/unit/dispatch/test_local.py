"""The in-process dispatcher of embedded mode (dispatch/local.py): what only it does (the contract
every dispatcher keeps is in test_contract.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from browserfleet.core.jobs import JobKind, JobState, NodeLabels, Route, RouteKind
from browserfleet.dispatch.base import JobEvent, Ticket
from browserfleet.dispatch.local import LocalDispatcher
from browserfleet.dispatch.subscribers import Subscribers

ANYWHERE = NodeLabels(node_id="node-any")
DE_NODE = NodeLabels(node_id="node-de", region="eu-central", country="DE")
FR_NODE = NodeLabels(node_id="node-fr", region="eu-west", country="FR")
NOT_YET = 0.1  # how long a claim that must block is given to (wrongly) return


def _ticket(job_id: str, route: Route | None = None, kind: JobKind = JobKind.RENDER) -> Ticket:
    return Ticket(job_id=job_id, project_id="prj_1", kind=kind, route=route or Route())


async def _claim(dispatcher: LocalDispatcher, labels: NodeLabels) -> Ticket:
    return await asyncio.wait_for(dispatcher.claim(labels), 2.0)


async def _assert_blocks(dispatcher: LocalDispatcher, labels: NodeLabels) -> None:
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(dispatcher.claim(labels), NOT_YET)


async def test_duplicate_submit_is_ignored_until_claimed() -> None:
    dispatcher = LocalDispatcher()
    ticket = _ticket("job_dup")
    await dispatcher.submit(ticket)
    await dispatcher.submit(ticket)
    await dispatcher.submit(_ticket("job_dup", Route(RouteKind.COUNTRY, "DE")))  # same job, other route
    assert await dispatcher.queued() == 1

    assert await _claim(dispatcher, ANYWHERE) == ticket
    await _assert_blocks(dispatcher, ANYWHERE)

    # Once claimed, the same job may be submitted again (the requeue after a browser crash).
    await dispatcher.submit(ticket)
    assert await dispatcher.queued() == 1
    assert await _claim(dispatcher, ANYWHERE) == ticket


async def _next(events: AsyncIterator[JobEvent], within: float = 2.0) -> JobEvent:
    return await asyncio.wait_for(anext(events), within)


async def test_a_job_subscription_is_filed_under_its_jobs_until_it_closes() -> None:
    subscribers = Subscribers()
    first = subscribers.subscribe(["job_1", "job_2"])
    second = subscribers.subscribe(["job_2"])
    watcher = subscribers.subscribe(kinds={"cancel"})
    assert len(subscribers) == 3
    record = object()
    event = JobEvent("job_2", "prj_1", JobState.COMPLETED, record=record)
    subscribers.deliver(event)
    got = await _next(aiter(first))
    assert got is event and got.record is record  # in-process: the very event, its record with it
    assert await _next(aiter(second)) is event
    for subscription in (first, second, watcher):
        await subscription.close()
    assert len(subscribers) == 0
    assert subscribers._by_job == {}  # nothing is left filed under a job nobody waits for


async def test_publish_reaches_every_subscriber_until_it_closes() -> None:
    dispatcher = LocalDispatcher()
    first, second = dispatcher.subscribe(), dispatcher.subscribe()
    first_events, second_events = aiter(first), aiter(second)
    sent = [
        JobEvent("job_1", "prj_1", JobState.RUNNING),
        JobEvent("job_1", "prj_1", JobState.COMPLETED),
        JobEvent("job_2", "prj_2", kind="cancel"),
    ]
    for event in sent:
        await dispatcher.publish(event)
    assert [await _next(first_events) for _ in sent] == sent
    assert [await _next(second_events) for _ in sent] == sent

    await first.close()
    after_close = JobEvent("job_3", "prj_1", JobState.FAILED)
    await dispatcher.publish(after_close)
    assert await _next(second_events) == after_close
    with pytest.raises(TimeoutError):
        await _next(first_events, NOT_YET)

    late = dispatcher.subscribe()  # a new subscriber sees only what is published after it joined
    late_events = aiter(late)
    newest = JobEvent("job_4", "prj_1", JobState.QUEUED)
    await dispatcher.publish(newest)
    assert await _next(late_events) == newest
    assert await _next(second_events) == newest

    for subscription, events in ((second, second_events), (late, late_events)):
        await subscription.close()
        await events.aclose()  # type: ignore[attr-defined]
