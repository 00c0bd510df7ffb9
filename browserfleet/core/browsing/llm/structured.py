"""Structured output: parse the model's answer, and ask once more when it does not parse.

The caller gives a ``parse`` function that turns a :class:`ChatResponse` into its value or raises
:class:`OutputInvalid` with a reason the model can act on ("click: index: field required",
"no tool was called"). On the first invalid answer the conversation is extended with the answer
itself (as plain text) and a repair instruction naming the reason, and the model is asked again;
a second invalid answer is :class:`LLMBadOutput`. The repair turn is not part of the returned
conversation: callers keep their history as if the model had answered well at once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

import structlog

from browserfleet.core.browsing.llm.base import ChatRequest, ChatResponse, LLMBadOutput, LLMProvider, Message

log = structlog.get_logger(__name__)
T = TypeVar("T")
_ECHO_LIMIT = 2000

REPAIR_PROMPT = (
    "Your last answer could not be used: {reason}. Answer again, by calling one or more of the "
    "offered tools with arguments that are valid JSON and match the tool's parameters."
)


class OutputInvalid(Exception):
    """The model's answer does not parse or does not fit; ``reason`` is shown to the model."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Parsed(Generic[T]):
    value: T
    response: ChatResponse
    repaired: bool  # the first answer was invalid, this is the second


async def chat_parsed(
    provider: LLMProvider, request: ChatRequest, parse: Callable[[ChatResponse], T]
) -> Parsed[T]:
    """``parse(answer)``, with one repair retry; :class:`LLMBadOutput` when both answers fail."""
    first = await provider.chat(request)
    try:
        return Parsed(parse(first), first, repaired=False)
    except OutputInvalid as invalid:
        log.info("llm.repair", reason=invalid.reason[:200])
        first_reason = invalid.reason
    second = await provider.chat(_repair_request(request, first, first_reason))
    try:
        return Parsed(parse(second), second, repaired=True)
    except OutputInvalid as invalid:
        raise LLMBadOutput(
            f"The model's output could not be used twice in a row: {invalid.reason} "
            f"(first answer: {first_reason})"
        ) from invalid


def _repair_request(request: ChatRequest, answer: ChatResponse, reason: str) -> ChatRequest:
    extra = (
        Message("assistant", echo(answer)),
        Message("user", REPAIR_PROMPT.format(reason=reason)),
    )
    return dataclasses.replace(request, messages=(*request.messages, *extra))


def echo(answer: ChatResponse) -> str:
    """The answer as plain text (tool calls spelled out), so the repair turn is a valid
    conversation even when the calls themselves were malformed."""
    parts = [answer.content or ""]
    parts += [f"[called {c.name} with {c.arguments}]" for c in answer.tool_calls]
    text = "\n".join(p for p in parts if p) or "(an empty answer)"
    return text[:_ECHO_LIMIT]
