"""The reference docs stay in step with the code they describe."""

from __future__ import annotations

import typing
from pathlib import Path

from browserfleet.core import actions
from browserfleet.core.errors import ErrorCode
from browserfleet.settings import Settings

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_every_setting_is_documented() -> None:
    text = (DOCS / "configuration.md").read_text()
    missing = [name for name in Settings.model_fields if f"`BROWSERFLEET_{name.upper()}`" not in text]
    assert missing == []


def test_every_action_is_documented() -> None:
    text = (DOCS / "actions.md").read_text()
    union = typing.get_args(typing.get_args(actions.Action)[0])
    names = [typing.get_args(model.model_fields["action"].annotation)[0] for model in union]
    assert len(names) > 20
    assert [n for n in names if f"`{n}`" not in text] == []


def test_every_error_code_is_documented_with_its_billing() -> None:
    rows = {
        line.split("|")[1].strip(" `"): line.split("|")[2].strip()
        for line in (DOCS / "errors.md").read_text().splitlines()
        if line.startswith("| `")
    }
    assert {code.value: ("yes" if code.billable else "no") for code in ErrorCode} == {
        code.value: rows.get(code.value) for code in ErrorCode
    }
