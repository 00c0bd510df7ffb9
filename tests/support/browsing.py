"""Helpers for browsing API tests: an httpx client for ``/api/v1/browsing`` (there is no official
SDK), status polling, and a recorder of the dispatcher's job events (the state sequence a task
went through, as the nodes announced it)."""

from __future__ import annotations

import asyncio
import dataclasses
import re
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx

from browserfleet.dispatch.base import JobEvent
from tests.support.fleet import FleetHarness, RunningServer
from tests.support.llm_standin import LLMStandIn, Reply, Seen, call

BASE = "/api/v1/browsing"
FINISHED = ("completed", "failed")


class Browsing:
    """``Authorization: Bearer KEY`` client of one server (an embedded one or a control plane)."""

    def __init__(self, url: str, key: str) -> None:
        self.http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60)

    def close(self) -> None:
        self.http.close()

    def start(self, **body: Any) -> str:
        response = self.http.post(f"{BASE}/async", json=body)
        assert response.status_code == 200, response.text
        task_id: str = response.json()["task_id"]
        return task_id

    def status(self, task_id: str) -> dict[str, Any]:
        response = self.http.get(f"{BASE}/status", params={"task_id": task_id})
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def wait(self, task_id: str, timeout_s: float = 60.0, seen: list[str] | None = None) -> dict[str, Any]:
        """The finished status object (``seen`` collects every status observed on the way)."""
        deadline = time.monotonic() + timeout_s
        while True:
            body = self.status(task_id)
            if seen is not None and (not seen or seen[-1] != body["status"]):
                seen.append(body["status"])
            if body["status"] in FINISHED:
                return body
            assert time.monotonic() < deadline, f"task {task_id} still {body['status']} after {timeout_s}s"
            time.sleep(0.05)

    def run(self, **body: Any) -> dict[str, Any]:
        return self.wait(self.start(**body))

    def screenshot(self, task_id: str, name: str) -> httpx.Response:
        return self.http.get(f"{BASE}/screenshots/{task_id}/{name}")


def shop_model(site_url: str, tag: str, *, first_delay_s: float = 0.0) -> Callable[[Seen], Reply]:
    """Open the shop, click the second product's add-to-cart button (found in the page state),
    then answer with its price as the page shows it."""

    def reply(seen: Seen) -> Reply:
        state = seen.last_user_text()
        if "Current page: about:blank" in state:
            return dataclasses.replace(
                call("navigate", url=f"{site_url}/shop?t={tag}"), delay_s=first_delay_s
            )
        second = [line for line in state.splitlines() if "Add to cart" in line][1]
        if "Added " not in state:
            found = re.search(r"\[(\d+)\]<button", second)
            assert found, state
            return call("click", index=int(found.group(1)))
        price = re.search(r"\$\d+\.\d\d", second)
        assert price, second
        return call("done", success=True, result=price.group(0))

    return reply


def race_model(
    llm: LLMStandIn, site_url: str, *, losers_wait_s: float
) -> tuple[Callable[[Seen], Reply], list[int]]:
    """A ``fanout`` race: the first attempt to ask gets to work once all three asked (its answer is
    held until the third asks); the other two wait ``losers_wait_s`` for theirs, so they are still
    running when the winner finishes. Also the list of the attempts' first requests (by order)."""
    started: list[int] = []

    def reply(seen: Seen) -> Reply:  # called under the stand-in's lock: never blocks
        if "Current page: about:blank" not in seen.last_user_text():
            return call("done", success=True, result="raced and won")
        started.append(seen.order)
        if len(started) == 3:
            llm.release()  # lets the first attempt's held answer go
        if len(started) == 1:
            return dataclasses.replace(call("navigate", url=f"{site_url}/shop"), hold=True, delay_s=15)
        return Reply(delay_s=losers_wait_s, message=call("wait", seconds=1).message)

    return reply, started


class EventLog:
    """Every job event the server's dispatcher publishes while open."""

    def __init__(self, harness: FleetHarness, server: RunningServer) -> None:
        self.events: list[JobEvent] = []
        self._ready = threading.Event()
        self._future = asyncio.run_coroutine_threadsafe(self._collect(server), harness.loop)
        assert self._ready.wait(10)

    async def _collect(self, server: RunningServer) -> None:
        subscription = server.fleet.dispatcher.subscribe()
        self._ready.set()
        try:
            async for event in subscription:
                self.events.append(event)
        finally:
            await subscription.close()

    def states(self, job_id: str) -> list[str]:
        return [e.state.value for e in list(self.events) if e.job_id == job_id and e.state is not None]

    def kinds(self, job_id: str) -> list[str]:
        return [e.kind for e in list(self.events) if e.job_id == job_id]

    def close(self) -> None:
        self._future.cancel()
