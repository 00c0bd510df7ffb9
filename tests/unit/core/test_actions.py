"""The action vocabulary (core/actions.py): validation without a browser, and JSON round trips."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from browserfleet.core.actions import (
    DEFAULT_TIMEOUT_MS,
    Action,
    ActionList,
    Click,
    Delay,
    Goto,
    SaveStructuredData,
    Screenshot,
    Scroll,
    Type,
    WaitForSelector,
    WaitForText,
)

ACTION = TypeAdapter(Action)

MIXED = [
    {"action": "goto", "url": "http://127.0.0.1:8000/forms", "wait_until": "networkidle"},
    {"action": "type", "selector": "#name", "text": "Ada", "delay_ms": 5},
    {"action": "click", "selector": "button[type=submit]", "timeout_ms": 2500},
    {"action": "wait_for_selector", "selector": "#done", "state": "attached"},
    {"action": "wait_for_text", "text": "Thanks, Ada"},
    {"action": "delay", "duration_ms": 0},
    {"action": "scroll", "to": "bottom"},
    {"action": "screenshot", "format": "jpeg", "quality": 70, "full_page": True},
    {
        "action": "save_structured_data",
        "selector": ".product",
        "fields": [
            {"name": "title", "selector": "h2"},
            {"name": "link", "selector": "a", "attribute": "href"},
        ],
    },
    {"action": "switch_tab", "index": 1},
]


def _errors(data: Any) -> list[dict[str, Any]]:
    with pytest.raises(ValidationError) as caught:
        ActionList.model_validate({"actions": data})
    return [dict(e) for e in caught.value.errors()]


def _contains(dumped: Any, sent: Any) -> bool:
    """``dumped`` has every value of ``sent`` (recursively); it may add defaulted fields."""
    if isinstance(sent, dict):
        return isinstance(dumped, dict) and all(
            k in dumped and _contains(dumped[k], v) for k, v in sent.items()
        )
    if isinstance(sent, list):
        return (
            isinstance(dumped, list)
            and len(dumped) == len(sent)
            and all(_contains(d, v) for d, v in zip(dumped, sent, strict=True))
        )
    return bool(dumped == sent)


def test_a_mixed_list_validates_into_typed_actions_with_defaults() -> None:
    actions = ActionList.model_validate({"actions": MIXED}).actions
    assert [type(a) for a in actions][:9] == [
        Goto,
        Type,
        Click,
        WaitForSelector,
        WaitForText,
        Delay,
        Scroll,
        Screenshot,
        SaveStructuredData,
    ]
    goto, typed, click, wait_sel, wait_text, delay, scroll, shot, data = actions[:9]
    assert isinstance(goto, Goto) and (goto.wait_until, goto.timeout_ms) == (
        "networkidle",
        DEFAULT_TIMEOUT_MS,
    )
    assert isinstance(typed, Type) and (typed.text, typed.clear, typed.delay_ms) == ("Ada", True, 5)
    assert isinstance(click, Click) and (click.selector, click.timeout_ms) == ("button[type=submit]", 2500)
    assert isinstance(wait_sel, WaitForSelector) and wait_sel.state == "attached"
    assert isinstance(wait_text, WaitForText) and wait_text.selector is None
    assert isinstance(delay, Delay) and delay.duration_ms == 0
    assert isinstance(scroll, Scroll) and (scroll.to, scroll.x, scroll.y) == ("bottom", 0, 0)
    assert isinstance(shot, Screenshot) and (shot.format, shot.quality, shot.full_page) == ("jpeg", 70, True)
    assert isinstance(data, SaveStructuredData)
    assert [(f.name, f.attribute) for f in data.fields] == [("title", None), ("link", "href")]


def test_unknown_action_is_rejected() -> None:
    errors = _errors([{"action": "teleport", "to": "mars"}])
    assert [e["type"] for e in errors] == ["union_tag_invalid"]
    assert "teleport" in errors[0]["msg"]
    assert errors[0]["loc"] == ("actions", 0)

    missing = _errors([{"selector": "#a"}])
    assert [e["type"] for e in missing] == ["union_tag_not_found"]


@pytest.mark.parametrize("name", ["click", "hover", "wait_for_selector", "save_text", "select"])
def test_targeted_actions_need_a_selector(name: str) -> None:
    extra = {"values": ["a"]} if name == "select" else {}
    errors = _errors([{"action": name, **extra}])
    assert [(e["type"], e["loc"][-1]) for e in errors] == [("missing", "selector")]
    empty = _errors([{"action": name, "selector": "", **extra}])
    assert [(e["type"], e["loc"][-1]) for e in empty] == [("string_too_short", "selector")]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"action": "delay", "duration_ms": -1}, "duration_ms"),
        ({"action": "delay", "duration_ms": 600_001}, "duration_ms"),
        ({"action": "delay"}, "duration_ms"),
        ({"action": "type", "selector": "#a", "text": "x", "delay_ms": -5}, "delay_ms"),
        ({"action": "click", "selector": "#a", "timeout_ms": -1}, "timeout_ms"),
        ({"action": "switch_tab", "index": -1}, "index"),
        ({"action": "screenshot", "quality": 0}, "quality"),
    ],
    ids=[
        "negative-delay",
        "huge-delay",
        "no-delay",
        "negative-typing-delay",
        "negative-timeout",
        "tab",
        "q0",
    ],
)
def test_out_of_range_numbers_are_rejected(data: dict[str, Any], field: str) -> None:
    errors = _errors([data])
    assert len(errors) == 1
    assert errors[0]["loc"][-1] == field


def test_extra_fields_are_forbidden() -> None:
    errors = _errors([{"action": "click", "selector": "#a", "sellector": "#b"}])
    assert [(e["type"], e["loc"][-1]) for e in errors] == [("extra_forbidden", "sellector")]
    nested = _errors(
        [
            {
                "action": "save_structured_data",
                "selector": ".p",
                "fields": [{"name": "t", "selector": "h", "x": 1}],
            }
        ]
    )
    assert [(e["type"], e["loc"][-1]) for e in nested] == [("extra_forbidden", "x")]


def test_actions_are_immutable() -> None:
    click = ACTION.validate_python({"action": "click", "selector": "#a"})
    with pytest.raises(ValidationError, match="frozen"):
        click.selector = "#b"  # type: ignore[misc, union-attr]


def test_round_trip_through_json() -> None:
    original = ActionList.model_validate({"actions": MIXED})
    wire = original.model_dump_json()
    decoded = json.loads(wire)
    assert [a["action"] for a in decoded["actions"]] == [a["action"] for a in MIXED]
    # Every field the caller sent survives as sent; defaults are spelled out.
    for sent, dumped in zip(MIXED, decoded["actions"], strict=True):
        assert _contains(dumped, sent), (sent, dumped)
    assert decoded["actions"][2]["timeout_ms"] == 2500
    assert decoded["actions"][4]["timeout_ms"] == DEFAULT_TIMEOUT_MS

    again = ActionList.model_validate_json(wire)
    assert again == original
    assert again.model_dump_json() == wire
    assert [type(a) for a in again.actions] == [type(a) for a in original.actions]
