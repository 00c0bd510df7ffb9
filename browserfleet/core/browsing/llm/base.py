"""The LLM provider extension point: a chat completion with tool calling, and its error tree.

The browsing agent (node/agent/) talks to a model only through :class:`LLMProvider`. A provider
turns a :class:`ChatRequest` (messages, tools, tool choice) into a :class:`ChatResponse` (the
assistant's text and/or tool calls). It does not judge the model's output: whether a tool call's
arguments parse and fit the tool is checked by the caller (see :mod:`.structured`, which asks the
model once more when they do not).

Errors a caller may see, and nothing else (a provider translates its transport's exceptions in
one place)::

    LLMError                 base; ``code`` is the job ErrorCode a failed task records
    ├── LLMNotConfigured     no provider settings (the API refuses tasks before this happens)
    ├── LLMProviderError     unreachable, timed out, non-2xx, or an answer that is not a completion
    └── LLMBadOutput         the model's output did not parse, twice in a row (after one repair)

When you add a provider: subclass :class:`LLMProvider` in a module of its own, add its settings
(and docs/configuration.md rows), and a branch to :func:`browserfleet.core.browsing.llm.build_provider`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, ClassVar, Literal, Self

from browserfleet.core.errors import ErrorCode

Role = Literal["system", "user", "assistant", "tool"]
ToolChoice = Literal["auto", "required", "none"]


class LLMError(Exception):
    """A chat completion that could not be used; ``code`` ends the task that asked for it."""

    code: ClassVar[ErrorCode] = ErrorCode.LLM_PROVIDER_ERROR

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class LLMNotConfigured(LLMError):
    code = ErrorCode.LLM_NOT_CONFIGURED


class LLMProviderError(LLMError):
    code = ErrorCode.LLM_PROVIDER_ERROR


class LLMBadOutput(LLMError):
    code = ErrorCode.LLM_BAD_OUTPUT


@dataclass(frozen=True)
class Image:
    """An image shown to the model (a screenshot); ``media_type`` e.g. ``image/png``."""

    data: bytes
    media_type: str = "image/png"


@dataclass(frozen=True)
class ToolSpec:
    """A function the model may call: ``parameters`` is a JSON Schema object."""

    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(frozen=True)
class ToolCall:
    """One call as the model made it; ``arguments`` is the raw JSON text (it may not parse)."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class Message:
    """One chat message. ``tool_calls`` only on assistant messages; ``tool_call_id`` only (and
    always) on tool messages, answering the assistant's call of that id."""

    role: Role
    content: str | None = None
    images: tuple[Image, ...] = ()
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None


@dataclass(frozen=True)
class ChatRequest:
    """``model`` None: the provider's configured model."""

    messages: tuple[Message, ...]
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: ToolChoice | None = None
    model: str | None = None
    temperature: float | None = 0.0
    max_tokens: int | None = None


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass(frozen=True)
class ChatResponse:
    content: str | None
    tool_calls: tuple[ToolCall, ...] = ()
    finish_reason: str | None = None
    model: str = ""
    usage: Usage = field(default_factory=Usage)

    def as_message(self) -> Message:
        """The assistant message to put back into the conversation."""
        return Message("assistant", self.content, tool_calls=self.tool_calls)


class LLMProvider(ABC):
    """A chat-completions model with tool calling.

    Contract of :meth:`chat`: send every message in order (images only when
    :attr:`accepts_images`; otherwise they are dropped, never an error), offer ``tools`` with
    ``tool_choice``, and return the first choice. Raise :class:`LLMProviderError` — and nothing
    else — when the service cannot answer (after at most one retry of a transient failure). A
    provider may be called concurrently, keeps no conversation state, and never logs or echoes
    its credentials. Use it as an async context manager (or call :meth:`aclose`) to release
    connections.
    """

    name: ClassVar[str]
    model: str
    accepts_images: bool = False

    @abstractmethod
    async def chat(self, request: ChatRequest) -> ChatResponse: ...

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release connections; the provider is unusable afterwards."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
