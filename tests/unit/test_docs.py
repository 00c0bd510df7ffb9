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


def test_every_firewall_rule_is_documented() -> None:
    """docs/security.md lists every CDP domain and method the firewall lets through (or rules on)
    and every WebDriver command it allows."""
    from browserfleet.core.firewall.cdp import OPEN_DOMAINS, RULES
    from browserfleet.core.firewall.webdriver import COMMANDS

    text = (DOCS / "security.md").read_text()
    rows = {line.split("|")[1].strip(" `"): line for line in text.splitlines() if line.startswith("| `")}
    missing = [d for d in OPEN_DOMAINS if f"`{d}`" not in text]
    for method in RULES:
        domain, _, name = method.partition(".")
        if f"`{method}`" not in text and f"`{name}`" not in rows.get(domain, ""):
            missing.append(method)
    for command in COMMANDS:
        verb, path = command.split(" ")
        if f"| `{verb}` | `/{path}` |" not in text:
            missing.append(command)
    assert missing == []
