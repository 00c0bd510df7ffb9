"""Sends generated cases to the fuzz server (tests/fuzz/conftest.py) and checks the answers."""

from __future__ import annotations

import os
import time
from collections import Counter, defaultdict
from collections.abc import Iterable

import httpx
from schemathesis import Case, CheckFunction

from tests.fuzz.confine import Confiner
from tests.fuzz.resources import Resources
from tests.support.fleet import RunningServer

RELEASE = {"status": "REQUEST_RELEASE"}
RELEASE_WAIT_S = 15.0


class Fuzzer:
    """Sends generated cases to the fuzz server: with real ids where a case names a resource,
    confined to loopback, authenticated, and with every session it creates released."""

    def __init__(self, server: RunningServer, key: str, site_url: str) -> None:
        self.server = server
        self.confiner = Confiner(site_url)
        self.headers = {"Authorization": f"Bearer {key}", "X-BB-API-Key": key}
        self.client = httpx.Client(base_url=server.url, headers=self.headers, timeout=60)
        self.answers: dict[str, Counter[int]] = defaultdict(Counter)  # operation -> status -> count
        settings = server.settings
        nodes = {settings.node_id: str(settings.node_country)}
        nodes.update({node.id: str(node.country) for node in settings.local_nodes})
        self.resources = Resources(self.client, site_url, nodes)

    def send(self, case: Case, checks: list[CheckFunction]) -> None:
        """The case, made valid where only this fleet can say what valid is and confined to
        loopback, sent; then ``checks`` run on the answer."""
        method = case.method.upper()
        self.resources.substitute(method, case.path, case.path_parameters)
        self.resources.substitute(method, case.path, case.query)
        self.resources.fill_references(f"{method} {case.path}", case.body)
        self.confiner.confine(case)
        self.confiner.check(case)
        try:
            response = case.call(base_url=self.server.url, headers=self.headers)
        finally:
            self.release(self.resources.take_fresh_sessions())
        self.answers[f"{method} {case.path}"][response.status_code] += 1
        if method == "POST" and case.path == "/v1/sessions" and response.status_code == 201:
            created = response.json()  # (a 201 without a session id is left to the checks)
            if isinstance(created, dict) and isinstance(created.get("id"), str):
                self.release([created["id"]])  # frees the project's concurrency for the next case
        case.validate_response(response, checks=checks, headers=self.headers)

    def release(self, session_ids: Iterable[str]) -> None:
        for session_id in session_ids:
            self.client.post(f"/v1/sessions/{session_id}", json=RELEASE)

    def unreleased(self) -> list[str]:
        """The project's sessions still pending or running."""
        found: list[str] = []
        for status in ("PENDING", "RUNNING"):
            answer = self.client.get("/v1/sessions", params={"status": status})
            answer.raise_for_status()
            found += [item["id"] for item in answer.json()]
        return found

    def close(self) -> None:
        """Release whatever the run left running (the shared session, any a failure skipped), and
        check that nothing is left."""
        try:
            self.release(self.unreleased())
            deadline = time.monotonic() + RELEASE_WAIT_S
            while (left := self.unreleased()) and time.monotonic() < deadline:
                time.sleep(0.2)
            assert left == [], f"sessions the fuzz run did not release: {left}"
        finally:
            self.client.close()
            if os.environ.get("FUZZ_REPORT"):  # FUZZ_REPORT=1 pytest -s tests/fuzz: what each answered
                for operation, statuses in sorted(self.answers.items()):
                    print(operation, dict(sorted(statuses.items())))
