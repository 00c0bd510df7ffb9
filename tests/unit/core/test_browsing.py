"""The agent's tools become shared actions (or a clear reason the model can repair), and
templates load from a folder or stop the start with one line naming the file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from browserfleet.core import actions as a
from browserfleet.core.browsing.llm import ChatResponse, OutputInvalid, ToolCall
from browserfleet.core.browsing.templates import TemplateBook
from browserfleet.core.browsing.tools import TOOL_NAMES, ToolLimits, plan, specs
from browserfleet.core.errors import InvalidRequest, Misconfigured

LIMITS = ToolLimits(action_timeout_ms=1234, navigation_timeout_ms=5678, scroll_px=600)


def answer(*calls: tuple[str, object]) -> ChatResponse:
    return ChatResponse(
        content=None,
        tool_calls=tuple(
            ToolCall(f"c{n}", name, args if isinstance(args, str) else json.dumps(args))
            for n, (name, args) in enumerate(calls)
        ),
    )


def test_tool_calls_become_shared_actions() -> None:
    planned = plan(
        answer(
            ("navigate", {"url": "http://127.0.0.1/shop"}),
            ("click", {"index": 3}),
            ("type", {"index": 4, "text": "lamp", "press_enter": True}),
            ("select", {"index": 5, "option": "Blue"}),
            ("scroll", {"direction": "up"}),
            ("scroll", {"index": 9}),
            ("scroll", {"direction": "bottom"}),
            ("press_key", {"key": "Escape"}),
            ("wait", {"seconds": 1.5}),
            ("extract_text", {}),
            ("go_back", {}),
            ("new_tab", {"url": "http://127.0.0.1/"}),
            ("switch_tab", {"index": 0}),
            ("close_tab", {}),
            ("done", {"result": "42"}),
        ),
        TOOL_NAMES,
        LIMITS,
    )
    assert [p.actions for p in planned] == [
        [a.Goto(url="http://127.0.0.1/shop", timeout_ms=5678)],
        [a.Click(selector='[data-bf-idx="3"]', timeout_ms=1234)],
        [
            a.Type(selector='[data-bf-idx="4"]', text="lamp", timeout_ms=1234),
            a.Press(key="Enter", selector='[data-bf-idx="4"]'),
        ],
        [a.Select(selector='[data-bf-idx="5"]', values=["Blue"], timeout_ms=1234)],
        [a.Scroll(y=-600)],
        [a.Scroll(selector='[data-bf-idx="9"]')],
        [a.Scroll(to="bottom")],
        [a.Press(key="Escape")],
        [a.Delay(duration_ms=1500)],
        [a.SaveText(selector="body", timeout_ms=1234)],
        [a.GoBack()],
        [a.NewTab(url="http://127.0.0.1/")],
        [a.SwitchTab(index=0)],
        [a.CloseTab()],
        [],
    ]
    done = planned[-1].done
    assert done is not None and done.success is True and done.result == "42"
    assert planned[2].describe() == {"tool": "type", "index": 4, "text": "lamp", "press_enter": True}


@pytest.mark.parametrize(
    ("calls", "reason"),
    [
        ((), "no tool was called (call `done` with the result when the task is finished)"),
        ((("fly", {}),), "`fly` is not one of the tools"),
        ((("type", {"index": 1, "text": "x"}),), "`type` is not one of the tools (click, done)"),
        ((("click", "{index: 1"),), "click: the arguments are not valid JSON"),
        ((("click", {"index": "first"}),), "click: index: Input should be a valid integer"),
        ((("wait", {"seconds": 60}),), "`wait` is not one of the tools"),
        ((("click", {}),), "click: index: Field required"),
    ],
)
def test_invalid_calls_say_why(calls: tuple[tuple[str, object], ...], reason: str) -> None:
    with pytest.raises(OutputInvalid) as caught:
        plan(answer(*calls), ("click",), LIMITS)
    assert caught.value.reason.startswith(reason)


def test_only_allowed_tools_are_offered_and_done_always_is() -> None:
    offered = specs(["click", "navigate"])
    assert [t.name for t in offered] == ["navigate", "click", "done"]
    assert offered[1].parameters == {
        "properties": {
            "index": {
                "description": "the element's [index] in the page state",
                "minimum": 0,
                "type": "integer",
            }
        },
        "required": ["index"],
        "type": "object",
    }


def test_templates_load_from_a_folder(tmp_path: Path) -> None:
    (tmp_path / "shopping.yaml").write_text(
        "max_steps: 7\nallowed_actions: [navigate, click]\nvision: true\n"
    )
    (tmp_path / "plain.json").write_text(json.dumps({"instructions": "be terse", "model": "m2"}))
    (tmp_path / "notes.txt").write_text("not a template")
    book = TemplateBook.load(tmp_path)
    assert book.names == ["default", "plain", "shopping"]
    shopping = book.get("shopping")
    assert (shopping.name, shopping.max_steps, shopping.vision) == ("shopping", 7, True)
    assert shopping.allowed_actions == ("navigate", "click", "done")
    assert book.get("plain").model == "m2" and book.get(None).name == "default"
    with pytest.raises(InvalidRequest) as unknown:
        book.get("missing")
    assert unknown.value.message == "Unknown template 'missing' (known: default, plain, shopping)"
    assert unknown.value.details == [{"field": "template", "message": unknown.value.message}]


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        (
            "bad.yaml",
            "allowed_actions: [navigate, teleport]",
            "allowed_actions: unknown actions ['teleport']",
        ),
        ("bad.yaml", "max_steps: 0", "max_steps: Input should be greater than or equal to 1"),
        ("bad.yaml", "colour: blue", "colour: Extra inputs are not permitted"),
        ("bad.yaml", "- a list", "a template is a mapping of fields"),
        ("bad.json", "{oops", "Expecting property name enclosed in double quotes"),
    ],
)
def test_a_bad_template_file_stops_the_start(tmp_path: Path, name: str, content: str, problem: str) -> None:
    (tmp_path / name).write_text(content)
    with pytest.raises(Misconfigured) as caught:
        TemplateBook.load(tmp_path)
    assert caught.value.message.startswith(f"browsing template {tmp_path / name}: {problem}")


def test_a_stem_in_two_formats_is_ambiguous(tmp_path: Path) -> None:
    (tmp_path / "dup.yaml").write_text("max_steps: 2")
    (tmp_path / "dup.json").write_text("{}")
    with pytest.raises(Misconfigured, match=r"\['dup'\] exist in more than one format"):
        TemplateBook.load(tmp_path)
    with pytest.raises(Misconfigured, match="is not a folder"):
        TemplateBook.load(tmp_path / "nope")
