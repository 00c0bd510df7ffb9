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
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any


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


class WebhookReceiver:
    def __init__(self) -> None:
        self.requests: list[Delivery] = []
        self._failures: list[int] = []
        self._lock = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._lock:
                    status = receiver._failures.pop(0) if receiver._failures else 200
                    headers = {k.lower(): v for k, v in self.headers.items()}
                    receiver.requests.append(Delivery(self.path, headers, body, status, time.time()))
                    receiver._lock.notify_all()
                payload = b'{"ok": true}' if status == 200 else b'{"error": "try again"}'
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="webhook-receiver", daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/hook"

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

    def start(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
