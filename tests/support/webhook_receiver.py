"""A webhook receiver stand-in on 127.0.0.1: records every POST and answers 200, or a failure
status for the next N requests (:meth:`WebhookReceiver.fail_next`).

```python
with WebhookReceiver() as receiver:  # receiver.url == "http://127.0.0.1:PORT/hook"
    receiver.fail_next(2)            # the next two POSTs get 500
    ...
    hits = receiver.wait_for(3, timeout=30)
```
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from tests.support.standin import Request, Response, StandIn


@dataclass(frozen=True)
class Delivery:
    """One request as received: path, headers (lower-case names), raw body, the status answered."""

    path: str
    headers: dict[str, str]
    body: bytes
    status: int
    received_at: float

    def json(self) -> Any:
        return json.loads(self.body)


class WebhookReceiver(StandIn[Delivery]):
    name = "webhook-receiver"
    url_path = "/hook"
    methods = frozenset({"POST"})
    protocol_version = "HTTP/1.0"  # one request per connection

    def __init__(self) -> None:
        super().__init__()
        self._failures: list[int] = []

    def respond(self, request: Request) -> Response:
        with self._lock:
            status = self._failures.pop(0) if self._failures else 200
            self.record(Delivery(request.target, request.headers, request.body, status, time.time()))
        return Response(status, b'{"ok": true}' if status == 200 else b'{"error": "try again"}')

    def fail_next(self, count: int, status: int = 500) -> None:
        """Answer the next ``count`` requests with ``status``."""
        with self._lock:
            self._failures.extend([status] * count)

    def for_run(self, run_uid: str) -> list[Delivery]:
        with self._lock:
            return [r for r in self.requests if r.headers.get("x-browserfleet-run") == run_uid]

    def wait_for(self, run_uid: str, count: int, timeout: float = 60.0) -> list[Delivery]:
        """The requests for ``run_uid`` once there are at least ``count`` of them."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                hits = [r for r in self.requests if r.headers.get("x-browserfleet-run") == run_uid]
                left = deadline - time.monotonic()
                if len(hits) >= count or left <= 0:
                    return hits
                self._lock.wait(left)

    def close(self) -> None:
        self.stop()
