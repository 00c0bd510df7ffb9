"""What the model reads: the system prompt, and the conversation kept across steps.

Each step adds the page state (a user message), the model's answer (an assistant message with
tool calls) and one tool message per call with what happened. Only the latest page state is sent
in full: earlier ones shrink to one line, so a long task does not grow the prompt by a page per
step; images (``vision``) go only with the latest state.
"""

from __future__ import annotations

import json
from typing import Any

from browserfleet.core.browsing.llm import ChatResponse, Image, Message

SYSTEM = """You are a browser agent: you operate a real web browser to accomplish the user's task.

Every turn you get the current page state: its URL, the open tabs and the page's text, in which \
interactive elements are marked [index]<tag ...>text</tag>. Act by calling tools. You may call \
several tools in one turn: they run in order, and once the page changes the remaining calls are \
skipped (indexes of the old page are no longer valid). Use indexes exactly as the latest page \
state shows them. What each call did comes back to you as its tool result.

When the task is accomplished, call `done` with success=true and the answer in `result` — just \
what the task asks for. When it cannot be accomplished, call `done` with success=false and say why \
in `result`. Never make up information that is not on the pages you visited."""


def system_prompt(instructions: str, result_schema: dict[str, Any] | None = None) -> str:
    prompt = SYSTEM
    if instructions.strip():
        prompt += f"\n\nInstructions for this kind of task:\n{instructions.strip()}"
    if result_schema is not None:
        prompt += (
            "\n\nWhen you call `done` with success=true, `result` must be JSON text (nothing else) "
            f"that matches this JSON Schema:\n{json.dumps(result_schema)}"
        )
    return prompt


class Conversation:
    def __init__(self, instructions: str, task: str, result_schema: dict[str, Any] | None = None) -> None:
        system = system_prompt(instructions, result_schema)
        self._head = (Message("system", system), Message("user", f"Task: {task}"))
        self._history: list[Message] = []

    def messages(self, state: str, images: tuple[Image, ...] = ()) -> tuple[Message, ...]:
        """The conversation so far plus this step's page state."""
        return (*self._head, *self._history, Message("user", state, images=images))

    def record(self, step: int, url: str, answer: ChatResponse, results: list[tuple[str, str]]) -> None:
        """Keep this step: its state as one line, the answer, and a result per tool call."""
        self._history.append(Message("user", f"(page state of step {step}, at {url}, omitted)"))
        self._history.append(answer.as_message())
        self._history += [Message("tool", text, tool_call_id=call_id) for call_id, text in results]
