"""A run's plan: the task's steps translated into the one action vocabulary (core/actions.py).

This is what a run's job carries to the node (``spec["plan"]``) and what the automation executor
(node/automation.py) runs through the one step runner. Each planned step keeps its Browserbear
identity (``uid``, ``action``) so outputs and errors can name it, and says what its actions'
result is (``output``): nothing, a JSON value, a file, images or a download to fetch and store.

``iterate``: the step runs once per item of the previous step's list output; ``{{item}}`` (or
``{{item.field}}`` for records) in any string of its actions is replaced by the item first.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from browserfleet.core import actions as a

ITEM = "{{item}}"
_PLACEHOLDER = a.ITEM_PLACEHOLDER
_ACTIONS: TypeAdapter[list[a.Action]] = TypeAdapter(list[a.Action])


class Output(StrEnum):
    NONE = "none"  # the step changes the page; nothing is saved
    VALUE = "value"  # the last action's JSON-able result (text, attributes, records, script value)
    FILE = "file"  # the last action's bytes, stored as a blob (screenshot, PDF)
    IMAGES = "images"  # the last action's image URL(s), each fetched and stored as a blob
    DOWNLOAD = "download"  # the last action's ``{filename, body}``, body stored as a blob
    UPLOAD = "upload"  # the last action's download is written for ``upload_selector``'s file input


class PlannedStep(BaseModel):
    model_config = ConfigDict(frozen=True)

    index: int  # position in the steps as run (0-based), for error messages
    uid: str
    action: str  # the Browserbear action name
    iterate: bool = False
    actions: list[a.Action] = Field(min_length=1)
    output: Output = Output.NONE
    file_ext: str | None = None  # for FILE outputs: "png", "pdf"
    upload_selector: str | None = None  # for UPLOAD

    @property
    def key(self) -> str:
        """The step's key in the run's ``outputs``: ``"<step_uid>_<action>"``."""
        return f"{self.uid}_{self.action}"

    @property
    def label(self) -> str:
        return f"step {self.index + 1} (uid {self.uid}, {self.action})"


class RunPlan(BaseModel):
    model_config = ConfigDict(frozen=True)

    viewport_width: int
    viewport_height: int
    steps: list[PlannedStep]


def bind(actions: list[a.Action], item: Any) -> list[a.Action]:
    """``actions`` with every ``{{item}}`` / ``{{item.field}}`` replaced by the iterated item."""
    raw = [act.model_dump(mode="json") for act in actions]
    return _ACTIONS.validate_python(_substitute(raw, item), context=a.BOUND)


def _substitute(value: Any, item: Any) -> Any:
    if isinstance(value, str):
        return _PLACEHOLDER.sub(lambda m: _render(item, m.group(1)), value)
    if isinstance(value, list):
        return [_substitute(v, item) for v in value]
    if isinstance(value, dict):
        return {k: _substitute(v, item) for k, v in value.items()}
    return value


def _render(item: Any, field: str | None) -> str:
    if field is not None:
        item = item.get(field) if isinstance(item, dict) else None
    if item is None:
        return ""
    return item if isinstance(item, str) else json.dumps(item)
