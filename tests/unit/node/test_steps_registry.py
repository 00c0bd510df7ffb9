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
