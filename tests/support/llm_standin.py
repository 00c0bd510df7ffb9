"""A model provider stand-in on 127.0.0.1 speaking the OpenAI chat-completions protocol.

``POST /v1/chat/completions`` with ``{"model", "messages", "tools", "tool_choice", ...}`` and
``Authorization: Bearer <key>`` answers ``{"id", "object": "chat.completion", "created", "model",
"choices": [{"index": 0, "message": {"role": "assistant", "content", "tool_calls"?},
"finish_reason"}], "usage"}``; tool calls are ``{"id", "type": "function", "function": {"name",
"arguments"}}`` with the arguments as JSON text, as OpenAI sends them. A wrong key gets 401 with
OpenAI's error shape, any other path 404.

Each test scripts it (:meth:`LLMStandIn.play`): a list of :class:`Reply` values taken in order,
or a function of the request (:class:`Seen`) returning one (called concurrently from the server's
threads: fan-out tasks ask at once). Helpers build replies: :func:`call` (one tool call),
:func:`calls`, :func:`text`, :func:`garbage_body`, :func:`http_error`; ``delay_s`` sleeps before
answering and ``hold=True`` waits until :meth:`LLMStandIn.release` (or ``delay_s``). Every request
is recorded in ``requests`` with its JSON body and its ``order`` (1, 2, … since :meth:`play`).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.support.standin import Request, Response, StandIn

LLM_KEY = "llm-test-key"
HOLD_MAX_S = 60.0


@dataclass(frozen=True)
class Reply:
    """One answer: an assistant ``message`` (200), or ``status`` with a raw ``body``."""

    message: dict[str, Any] | None = None
    status: int = 200
    body: bytes | None = None
    delay_s: float = 0.0
    hold: bool = False


@dataclass
class Seen:
    """A request the stand-in got."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    order: int

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages") or [])

    @property
    def tool_names(self) -> list[str]:
        return [t["function"]["name"] for t in self.body.get("tools") or []]

    def tool_results(self) -> list[str]:
        return [str(m.get("content")) for m in self.messages if m.get("role") == "tool"]

    def last_user_text(self) -> str:
        """The text of the last user message (its text part when it carries images)."""
        for message in reversed(self.messages):
            if message.get("role") == "user":
                content = message.get("content")
                if isinstance(content, list):
                    return "".join(p.get("text", "") for p in content if p.get("type") == "text")
                return str(content or "")
        return ""

    def index_of(self, pattern: str) -> int:
        """The element index ``[N]`` on the line of the latest page state matching ``pattern``."""
        for line in self.last_user_text().splitlines():
            if re.search(pattern, line):
                found = re.search(r"\[(\d+)\]<", line)
                if found:
                    return int(found.group(1))
        raise AssertionError(f"no indexed element matches {pattern!r} in:\n{self.last_user_text()}")


Script = list[Reply] | Callable[[Seen], Reply]
_call_ids = itertools.count(1)


def calls(*tools: tuple[str, dict[str, Any]], content: str | None = None, **kw: Any) -> Reply:
    tool_calls = [
        {
            "id": f"call_{next(_call_ids)}",
            "type": "function",
            "function": {"name": n, "arguments": json.dumps(a)},
        }
        for n, a in tools
    ]
    return Reply({"role": "assistant", "content": content, "tool_calls": tool_calls}, **kw)


def call(name: str, /, **arguments: Any) -> Reply:
    return calls((name, arguments))


def raw_call(name: str, arguments_text: str) -> Reply:
    """A tool call whose arguments are exactly ``arguments_text`` (possibly not JSON)."""
    tool_call = {
        "id": f"call_{next(_call_ids)}",
        "type": "function",
        "function": {"name": name, "arguments": arguments_text},
    }
    return Reply({"role": "assistant", "content": None, "tool_calls": [tool_call]})


def later(reply: Reply, delay_s: float) -> Reply:
    """``reply`` after ``delay_s`` seconds."""
    return dataclasses.replace(reply, delay_s=delay_s)


def text(content: str, **kw: Any) -> Reply:
    return Reply({"role": "assistant", "content": content}, **kw)


def garbage_body(body: bytes = b"<html>upstream glitch</html>") -> Reply:
    return Reply(status=200, body=body)


def http_error(status: int, message: str = "stand-in error") -> Reply:
    error = {"error": {"message": message, "type": "server_error", "code": None}}
    return Reply(status=status, body=json.dumps(error).encode())


class LLMStandIn(StandIn[Seen]):
    name = "llm-stand-in"
    url_path = "/v1"  # the base URL as a client configures it
    methods = frozenset({"POST"})

    def __init__(self, api_key: str = LLM_KEY) -> None:
        super().__init__()
        self.api_key = api_key
        self._script: Script = []
        self._released = threading.Event()
        self._count = 0

    def stop(self) -> None:
        self._released.set()
        super().stop()

    def play(self, script: Script) -> None:
        """Script the next answers (resets the recorded requests and held replies)."""
        with self._lock:
            self._released.set()  # let replies held by a previous test go
            self._released = threading.Event()
            self._script = list(script) if isinstance(script, list) else script
            self.requests.clear()
            self._count = 0

    def release(self) -> None:
        self._released.set()

    # ------------------------------------------------------------------ protocol
    def respond(self, request: Request) -> Response:
        path, headers = request.target, request.headers
        if path.rstrip("/") != "/v1/chat/completions":
            return Response(404, _error("Unknown path", "invalid_request_error"))
        if headers.get("authorization") != f"Bearer {self.api_key}":
            return Response(
                401, _error("Incorrect API key provided", "invalid_request_error", "invalid_api_key")
            )
        try:
            body = request.json()
        except ValueError:
            return Response(
                400, _error("We could not parse the JSON body of your request", "invalid_request_error")
            )
        with self._lock:
            self._count += 1
            seen = Seen(path, headers, body, self._count)
            self.record(seen)
            script, released = self._script, self._released
            reply = script(seen) if callable(script) else (script.pop(0) if script else None)
        if reply is None:
            return Response(500, _error("the stand-in's script is exhausted", "server_error"))
        if reply.hold:
            released.wait(reply.delay_s or HOLD_MAX_S)
        elif reply.delay_s:
            time.sleep(reply.delay_s)
        if reply.body is not None:
            return Response(reply.status, reply.body)
        return Response(reply.status, json.dumps(_completion(body, reply.message or {})).encode())


def _completion(request: dict[str, Any], message: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{next(_call_ids)}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request.get("model", ""),
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": "tool_calls" if message.get("tool_calls") else "stop",
            }
        ],
        "usage": {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110},
    }


def _error(message: str, kind: str, code: str | None = None) -> bytes:
    return json.dumps({"error": {"message": message, "type": kind, "param": None, "code": code}}).encode()
