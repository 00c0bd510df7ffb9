"""Any OpenAI-compatible chat-completions endpoint with tool calling (OpenAI, vLLM, Ollama, LM
Studio, OpenRouter, …), by base URL + key + model.

``POST {base_url}/chat/completions`` with ``{"model", "messages", "tools", "tool_choice",
"temperature"}``; the answer's ``choices[0].message`` carries ``content`` and ``tool_calls``
(``[{"id", "type": "function", "function": {"name", "arguments"}}]``, arguments as JSON text).
Images go as ``image_url`` parts with a ``data:`` URL. The key (a ``SecretStr``) goes only into
the ``Authorization`` header and is never logged; a provider's error message that echoes it is
redacted.

Every failure is translated in :func:`_translate` / :func:`_check_status` into
:class:`LLMProviderError` with a message that names what to check. Transient failures (connection
refused or reset, HTTP 429 and 5xx) are retried once after ``retry_delay_s``; a timeout is not
retried (the model may still be working on it; a second wait would double the task's cost).
"""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import httpx
import structlog
from pydantic import SecretStr

from browserfleet.core.browsing.llm.base import (
    ChatRequest,
    ChatResponse,
    LLMProvider,
    LLMProviderError,
    Message,
    ToolCall,
    Usage,
)
from browserfleet.core.http import OutboundClient, outbound_client

log = structlog.get_logger(__name__)
_TRANSIENT_STATUS = frozenset({429, 500, 502, 503, 504})
_MAX_ERROR_TEXT = 300


class OpenAICompatible(LLMProvider):
    name = "openai-compatible"

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: SecretStr | None = None,
        timeout_s: float = 60.0,
        accepts_images: bool = False,
        retry_delay_s: float = 1.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.accepts_images = accepts_images
        self.timeout_s = timeout_s
        self.retry_delay_s = retry_delay_s
        self._api_key = api_key
        self._http: OutboundClient | None = None

    def __repr__(self) -> str:
        return f"OpenAICompatible(base_url={self.base_url!r}, model={self.model!r}, api_key=<redacted>)"

    async def chat(self, request: ChatRequest) -> ChatResponse:
        body = self._body(request)
        response = await self._send_with_one_retry(body)
        self._check_status(response)
        return _parse_completion(response)

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    # ------------------------------------------------------------------------------- transport
    async def _post(self, body: dict[str, Any]) -> httpx.Response:
        if self._http is None:
            self._http = outbound_client(timeout=self.timeout_s)
        headers = {"accept": "application/json"}
        if self._api_key is not None and self._api_key.get_secret_value():
            headers["authorization"] = f"Bearer {self._api_key.get_secret_value()}"
        return await self._http.post(f"{self.base_url}/chat/completions", json=body, headers=headers)

    async def _send_with_one_retry(self, body: dict[str, Any]) -> httpx.Response:
        """Post; a transient failure (refused/reset connection, 429, 5xx) is retried once."""
        for attempt in (1, 2):
            try:
                response = await self._post(body)
            except httpx.TransportError as exc:
                if attempt == 2 or isinstance(exc, httpx.TimeoutException):
                    raise _translate(exc, self.timeout_s) from exc
                delay, reason = self.retry_delay_s, type(exc).__name__
            else:
                if response.status_code not in _TRANSIENT_STATUS or attempt == 2:
                    return response
                delay, reason = _retry_after(response, self.retry_delay_s), str(response.status_code)
            log.info("llm.retry", reason=reason)
            await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    def _check_status(self, response: httpx.Response) -> None:
        if response.is_success:
            return
        detail = self._redact(_error_text(response))
        hint = _HINTS.get(response.status_code, "")
        message = f"The model provider answered HTTP {response.status_code}{hint}"
        log.warning("llm.failed", status=response.status_code, detail=detail)
        raise LLMProviderError(f"{message}: {detail}" if detail else message)

    def _redact(self, text: str) -> str:
        secret = self._api_key.get_secret_value() if self._api_key is not None else ""
        return text.replace(secret, "<redacted>") if secret else text

    # ----------------------------------------------------------------------------- wire format
    def _body(self, request: ChatRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": request.model or self.model,
            "messages": [self._message(m) for m in request.messages],
        }
        if request.tools:
            body["tools"] = [
                {
                    "type": "function",
                    "function": {"name": t.name, "description": t.description, "parameters": t.parameters},
                }
                for t in request.tools
            ]
            if request.tool_choice is not None:
                body["tool_choice"] = request.tool_choice
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.max_tokens is not None:
            body["max_tokens"] = request.max_tokens
        return body

    def _message(self, message: Message) -> dict[str, Any]:
        wire: dict[str, Any] = {"role": message.role, "content": message.content}
        if message.images and self.accepts_images:
            parts: list[dict[str, Any]] = [{"type": "text", "text": message.content or ""}]
            parts += [
                {"type": "image_url", "image_url": {"url": _data_url(i.media_type, i.data)}}
                for i in message.images
            ]
            wire["content"] = parts
        if message.tool_calls:
            wire["tool_calls"] = [
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                for c in message.tool_calls
            ]
        if message.tool_call_id is not None:
            wire["tool_call_id"] = message.tool_call_id
        return wire


_HINTS = {
    400: " (the request was refused: does the model support tool calling?)",
    401: " (check BROWSERFLEET_LLM_API_KEY)",
    403: " (check BROWSERFLEET_LLM_API_KEY)",
    404: " (check BROWSERFLEET_LLM_BASE_URL, usually ending in /v1, and BROWSERFLEET_LLM_MODEL)",
    429: " (rate limited, twice)",
}


def _translate(exc: httpx.TransportError, timeout_s: float) -> LLMProviderError:
    """The one place transport exceptions become the provider error."""
    if isinstance(exc, httpx.TimeoutException):
        return LLMProviderError(f"The model provider did not answer within {timeout_s:g} s")
    log.warning("llm.unreachable", error=type(exc).__name__)
    return LLMProviderError(
        f"The model provider could not be reached ({type(exc).__name__}): check BROWSERFLEET_LLM_BASE_URL"
    )


def _retry_after(response: httpx.Response, default_s: float) -> float:
    try:
        return min(5.0, max(default_s, float(response.headers.get("retry-after", ""))))
    except ValueError:
        return default_s


def _error_text(response: httpx.Response) -> str:
    """The provider's own error message (OpenAI shape ``{"error": {"message"}}``) or body text."""
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:_MAX_ERROR_TEXT]
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return str(error["message"])[:_MAX_ERROR_TEXT]
    if isinstance(error, str):
        return error[:_MAX_ERROR_TEXT]
    return json.dumps(body)[:_MAX_ERROR_TEXT]


def _parse_completion(response: httpx.Response) -> ChatResponse:
    try:
        body = response.json()
        choice = body["choices"][0]
        message = choice["message"]
        if not isinstance(message, dict):
            raise TypeError("message is not an object")
        calls = tuple(_tool_call(c, n) for n, c in enumerate(message.get("tool_calls") or ()))
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        log.warning("llm.not_a_completion", error=str(exc)[:200])
        raise LLMProviderError("The model provider answered something that is not a chat completion") from exc
    usage = body.get("usage") if isinstance(body.get("usage"), dict) else {}
    return ChatResponse(
        content=_content_text(message.get("content")),
        tool_calls=calls,
        finish_reason=choice.get("finish_reason"),
        model=str(body.get("model") or ""),
        usage=Usage(int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)),
    )


def _tool_call(raw: Any, n: int) -> ToolCall:
    function = raw["function"]
    arguments = function.get("arguments")
    if not isinstance(arguments, str):  # some servers send the object itself
        arguments = json.dumps(arguments if arguments is not None else {})
    return ToolCall(id=str(raw.get("id") or f"call_{n}"), name=str(function["name"]), arguments=arguments)


def _content_text(content: Any) -> str | None:
    """Plain text, also from a list of ``{"type": "text", "text"}`` parts."""
    if content is None or isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text"]
        return "".join(texts) or None
    return str(content)


def _data_url(media_type: str, data: bytes) -> str:
    return f"data:{media_type};base64,{base64.b64encode(data).decode('ascii')}"
