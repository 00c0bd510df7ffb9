"""The base of the threaded HTTP stand-ins (captcha solver, search services, model provider,
webhook receiver): a ``ThreadingHTTPServer`` on 127.0.0.1 (a free port, taken when the stand-in is
made) served by a daemon thread, so sync and async tests alike can start, stop and inspect it.

A subclass only says what it answers: :meth:`StandIn.respond` turns each :class:`Request` into a
:class:`Response` (:func:`json_response` for a JSON one), usually recording what it saw in
``requests`` under ``_lock`` first::

    class Echo(StandIn[Request]):
        name = "echo-stand-in"

        def respond(self, request: Request) -> Response:
            self.record(request)
            return json_response({"got": request.json(default=None)})

    with Echo() as echo:  # echo.url == "http://127.0.0.1:PORT"
        ...
        echo.requests

The server logs nothing (tests read what the stand-in recorded), and a client that gives up before
its answer is written (timeout and cancellation tests) is not an error.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, ClassVar, Generic, Self, TypeVar
from urllib.parse import parse_qs, urlsplit

R = TypeVar("R")
_RAISE: Any = object()


@dataclass(frozen=True)
class Request:
    """One request as received: ``target`` is the request line's path with its query string,
    ``headers`` have lower-case names."""

    method: str
    target: str
    headers: dict[str, str]
    body: bytes

    @property
    def path(self) -> str:
        """``target`` without its query string."""
        return urlsplit(self.target).path

    @property
    def params(self) -> dict[str, str]:
        """The query parameters (the last value of a repeated one; blank ones kept)."""
        query = parse_qs(urlsplit(self.target).query, keep_blank_values=True)
        return {name: values[-1] for name, values in query.items()}

    def json(self, default: Any = _RAISE) -> Any:
        """The body as JSON. An empty body or one that is not JSON gives ``default`` when one is
        given, else raises ``ValueError``."""
        try:
            return json.loads(self.body)
        except ValueError:
            if default is _RAISE:
                raise
            return default


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    content_type: str = "application/json"


def json_response(payload: Any, status: int = 200) -> Response:
    return Response(status, json.dumps(payload).encode())


class StandIn(Generic[R]):
    """A stand-in service; ``R`` is the type of what it records in :attr:`requests`."""

    name: ClassVar[str] = "stand-in"  # its server thread's name
    url_path: ClassVar[str] = ""  # appended to the origin in :attr:`url`
    methods: ClassVar[frozenset[str]] = frozenset({"GET", "POST"})  # others get 501
    protocol_version: ClassVar[str] = "HTTP/1.1"

    def __init__(self) -> None:
        self.requests: list[R] = []
        # guards what the stand-in records; reentrant, and waiters can wait for the next request
        self._lock = threading.Condition()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name=self.name, daemon=True)

    # ------------------------------------------------------------------ lifecycle
    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}{self.url_path}"

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------ what was seen
    def reset(self) -> None:
        """Nothing recorded (subclasses also restore their default behaviour)."""
        with self._lock:
            self.requests.clear()

    def record(self, seen: R) -> None:
        """Add ``seen`` to :attr:`requests` and wake whoever waits on ``_lock``."""
        with self._lock:
            self.requests.append(seen)
            self._lock.notify_all()

    # ------------------------------------------------------------------ protocol
    def respond(self, request: Request) -> Response:
        """The answer to ``request`` (called from the server's threads, concurrently)."""
        raise NotImplementedError


def _handler(stand_in: StandIn[Any]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = stand_in.protocol_version

        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def _serve(self) -> None:
            if self.command not in stand_in.methods:
                self.send_error(501, f"Unsupported method ({self.command!r})")
                return
            length = int(self.headers.get("Content-Length") or 0)
            headers = {k.lower(): v for k, v in self.headers.items()}
            answer = stand_in.respond(Request(self.command, self.path, headers, self.rfile.read(length)))
            try:
                self.send_response(answer.status)
                self.send_header("Content-Type", answer.content_type)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)
            except OSError:  # the client gave up (a timeout, a cancelled task): nothing to answer
                self.close_connection = True

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet: tests read what the stand-in recorded instead

    return Handler
