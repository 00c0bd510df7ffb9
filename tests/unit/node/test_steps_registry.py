"""Every action of the vocabulary (core/actions.py ACTIONS) has exactly one handler in the step
runner (node/steps.py), registered with ``@handles``."""

from __future__ import annotations

import pytest

from browserfleet.core import actions as a
from browserfleet.node import steps


def test_every_action_has_a_handler() -> None:
    assert steps.missing_handlers() == set()
    assert set(steps.HANDLERS) == set(a.ACTIONS)
    assert len(a.ACTIONS) > 20


def test_a_forgotten_handler_is_found(monkeypatch: pytest.MonkeyPatch) -> None:
    """The check above can fail: an action without a handler is reported by name."""
    handlers = dict(steps.HANDLERS)
    del handlers["save_pdf"]
    monkeypatch.setattr(steps, "HANDLERS", handlers)
    assert steps.missing_handlers() == {"save_pdf"}


def test_the_registry_names_each_model_by_its_action() -> None:
    for name, model in a.ACTIONS.items():
        assert model.model_fields["action"].default == name
    assert a.ACTIONS["goto"] is a.Goto


@pytest.mark.parametrize(
    ("message", "invalid"),
    [
        ('Page.click: Error while parsing css selector "0". Did you mean to CSS.escape it?', True),
        ('Locator.count: Unexpected token ":" while parsing css selector "div::after".', True),
        ('Locator.count: Unknown engine "bc" while parsing selector bc==', True),
        ('Locator.count: Error: "is" engine expects non-empty selector list', True),
        ("SyntaxError: Failed to execute 'querySelectorAll': ':foo' is not a valid selector.", True),
        (
            "SyntaxError: Failed to execute 'evaluate': The string '//x[' is not a valid XPath expression.",
            True,
        ),
        ("Page.click: Target page, context or browser has been closed", False),
        ("net::ERR_CONNECTION_REFUSED at http://127.0.0.1:9/", False),
    ],
)
def test_playwright_messages_about_a_bad_selector_are_recognised(message: str, invalid: bool) -> None:
    """They fail the job as INVALID_SELECTOR (the caller's mistake), never INTERNAL_ERROR."""
    assert steps.invalid_selector(message) is invalid
