"""The browsing agent's tools: function-calling specs, each translated into the shared actions.

The model sees these tools; every call it makes is validated here and becomes a list of
:mod:`browserfleet.core.actions` that the one step runner (node/steps.py) executes — there is no
second implementation of clicking or typing. Elements are named by the ``[index]`` the page state
shows (node/agent/page_state.py marks them with the :data:`ELEMENT_ATTR` attribute), so an index
becomes the selector ``[data-bf-idx="N"]``.

| tool | actions |
|---|---|
| ``navigate {url}`` | ``goto`` |
| ``click {index}`` | ``click`` |
| ``type {index, text, press_enter?}`` | ``type`` (+ ``press Enter``) |
| ``select {index, option}`` | ``select`` |
| ``scroll {direction, index?}`` | ``scroll`` (by ~a viewport, to top/bottom, or an element into view) |
| ``press_key {key, index?}`` | ``press`` |
| ``wait {seconds}`` | ``delay`` |
| ``extract_text {index?}`` | ``save_text`` (the element, or the whole page) |
| ``go_back`` | ``go_back`` |
| ``new_tab {url?}``, ``switch_tab {index}``, ``close_tab`` | ``new_tab``, ``switch_tab``, ``close_tab`` |
| ``done {success, result}`` | — ends the task; ``result`` is the task's ``payload`` |

When you add a tool, add it to :data:`TOOLS` and to the table above and in docs/browsing.md.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from browserfleet.core import actions as a
from browserfleet.core.browsing.llm import ChatResponse, OutputInvalid, ToolCall, ToolSpec

ELEMENT_ATTR = "data-bf-idx"
DONE = "done"


@dataclass(frozen=True)
class ToolLimits:
    """How long the actions a tool makes may wait, and how far a scroll goes."""

    action_timeout_ms: int = 5000
    navigation_timeout_ms: int = 30_000
    scroll_px: int = 600


class _Args(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class NavigateArgs(_Args):
    url: a.WebUrl = Field(min_length=1, description="absolute http(s) URL")


class ElementArgs(_Args):
    index: int = Field(ge=0, description="the element's [index] in the page state")


class TypeArgs(ElementArgs):
    text: str = Field(description="text to type (the field is cleared first)")
    press_enter: bool = Field(default=False, description="press Enter after typing (submits forms)")


class SelectArgs(ElementArgs):
    option: str = Field(description="the option's visible text or value")


class ScrollArgs(_Args):
    direction: Literal["down", "up", "top", "bottom"] = "down"
    index: int | None = Field(default=None, ge=0, description="scroll this element into view instead")


class PressKeyArgs(_Args):
    key: str = Field(min_length=1, description="a key name, e.g. Enter, Escape, ArrowDown, Control+A")
    index: int | None = Field(default=None, ge=0, description="focus this element first")


class WaitArgs(_Args):
    seconds: float = Field(ge=0, le=10)


class ExtractTextArgs(_Args):
    index: int | None = Field(default=None, ge=0, description="an element; none: the whole page")


class NoArgs(_Args):
    pass


class NewTabArgs(_Args):
    url: a.WebUrl | None = Field(default=None, description="open this URL in the new tab")


class SwitchTabArgs(_Args):
    index: int = Field(ge=0, description="the tab's number in the page state's tab list")


class DoneArgs(_Args):
    success: bool = Field(default=True, description="false when the task could not be accomplished")
    result: str = Field(description="the answer to the task, or why it could not be accomplished")


def element(index: int) -> str:
    return f'[{ELEMENT_ATTR}="{index}"]'


def _navigate(args: NavigateArgs, limits: ToolLimits) -> list[a.Action]:
    return [a.Goto(url=args.url, timeout_ms=limits.navigation_timeout_ms)]


def _click(args: ElementArgs, limits: ToolLimits) -> list[a.Action]:
    return [a.Click(selector=element(args.index), timeout_ms=limits.action_timeout_ms)]


def _type(args: TypeArgs, limits: ToolLimits) -> list[a.Action]:
    typed: list[a.Action] = [
        a.Type(selector=element(args.index), text=args.text, timeout_ms=limits.action_timeout_ms)
    ]
    return [*typed, a.Press(key="Enter", selector=element(args.index))] if args.press_enter else typed


def _select(args: SelectArgs, limits: ToolLimits) -> list[a.Action]:
    return [a.Select(selector=element(args.index), values=[args.option], timeout_ms=limits.action_timeout_ms)]


def _scroll(args: ScrollArgs, limits: ToolLimits) -> list[a.Action]:
    if args.index is not None:
        return [a.Scroll(selector=element(args.index))]
    if args.direction in ("top", "bottom"):
        return [a.Scroll(to=args.direction)]
    return [a.Scroll(y=limits.scroll_px if args.direction == "down" else -limits.scroll_px)]


def _press(args: PressKeyArgs, limits: ToolLimits) -> list[a.Action]:
    return [a.Press(key=args.key, selector=element(args.index) if args.index is not None else None)]


def _wait(args: WaitArgs, limits: ToolLimits) -> list[a.Action]:
    return [a.Delay(duration_ms=round(args.seconds * 1000))]


def _extract(args: ExtractTextArgs, limits: ToolLimits) -> list[a.Action]:
    selector = element(args.index) if args.index is not None else "body"
    return [a.SaveText(selector=selector, timeout_ms=limits.action_timeout_ms)]


def _new_tab(args: NewTabArgs, limits: ToolLimits) -> list[a.Action]:
    return [a.NewTab(url=args.url)]


def _switch_tab(args: SwitchTabArgs, limits: ToolLimits) -> list[a.Action]:
    return [a.SwitchTab(index=args.index)]


def _done(args: DoneArgs, limits: ToolLimits) -> list[a.Action]:
    return []


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    args: type[_Args]
    actions: Callable[[Any, ToolLimits], list[a.Action]]

    def spec(self) -> ToolSpec:
        return ToolSpec(self.name, self.description, _schema(self.args))


def _no_args(action: a.Action) -> Callable[[Any, ToolLimits], list[a.Action]]:
    return lambda _args, _limits: [action]


TOOLS: dict[str, Tool] = {
    t.name: t
    for t in (
        Tool("navigate", "Open a URL in the current tab.", NavigateArgs, _navigate),
        Tool("click", "Click the element with this [index].", ElementArgs, _click),
        Tool("type", "Type text into the input or textarea with this [index].", TypeArgs, _type),
        Tool("select", "Choose an option of the <select> with this [index].", SelectArgs, _select),
        Tool(
            "scroll",
            "Scroll the page by about a screen, to top/bottom, or to an element.",
            ScrollArgs,
            _scroll,
        ),
        Tool(
            "press_key",
            "Press a keyboard key, optionally on the element with this [index].",
            PressKeyArgs,
            _press,
        ),
        Tool("wait", "Wait a few seconds for the page to change.", WaitArgs, _wait),
        Tool(
            "extract_text",
            "Read the full text of an element, or of the whole page.",
            ExtractTextArgs,
            _extract,
        ),
        Tool("go_back", "Go back to the previous page.", NoArgs, _no_args(a.GoBack())),
        Tool("new_tab", "Open a new tab (optionally at a URL) and switch to it.", NewTabArgs, _new_tab),
        Tool("switch_tab", "Switch to the tab with this number.", SwitchTabArgs, _switch_tab),
        Tool("close_tab", "Close the current tab.", NoArgs, _no_args(a.CloseTab())),
        Tool(DONE, "Finish the task: give the answer (or why it cannot be done).", DoneArgs, _done),
    )
}
TOOL_NAMES: tuple[str, ...] = tuple(TOOLS)


@dataclass(frozen=True)
class PlannedCall:
    """A valid call: its actions for the step runner, or (``done``) the final answer."""

    call: ToolCall
    args: _Args
    actions: list[a.Action]

    @property
    def name(self) -> str:
        return self.call.name

    @property
    def done(self) -> DoneArgs | None:
        return self.args if isinstance(self.args, DoneArgs) else None

    def describe(self) -> dict[str, Any]:
        return {"tool": self.name, **self.args.model_dump(exclude_none=True)}


def specs(allowed: Iterable[str]) -> tuple[ToolSpec, ...]:
    wanted = set(allowed) | {DONE}
    return tuple(tool.spec() for name, tool in TOOLS.items() if name in wanted)


def plan(answer: ChatResponse, allowed: Iterable[str], limits: ToolLimits) -> list[PlannedCall]:
    """The answer's tool calls, validated and translated; :class:`OutputInvalid` when any call
    does not parse or names a tool that is not offered (the model is asked to repair it)."""
    if not answer.tool_calls:
        raise OutputInvalid("no tool was called (call `done` with the result when the task is finished)")
    offered = set(allowed) | {DONE}
    return [_plan_one(call, offered, limits) for call in answer.tool_calls]


def _plan_one(call: ToolCall, offered: set[str], limits: ToolLimits) -> PlannedCall:
    tool = TOOLS.get(call.name)
    if tool is None or call.name not in offered:
        raise OutputInvalid(f"`{call.name}` is not one of the tools ({', '.join(sorted(offered))})")
    try:
        raw = json.loads(call.arguments or "{}")
    except ValueError as exc:
        raise OutputInvalid(f"{call.name}: the arguments are not valid JSON") from exc
    try:
        args = tool.args.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "arguments"
        raise OutputInvalid(f"{call.name}: {where}: {first['msg']}") from exc
    return PlannedCall(call, args, tool.actions(args, limits))


def _schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON Schema without pydantic's ``title`` noise."""
    schema = model.model_json_schema()
    schema.pop("title", None)
    for prop in schema.get("properties", {}).values():
        prop.pop("title", None)
    schema.setdefault("properties", {})
    return schema
