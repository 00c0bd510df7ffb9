"""Validating a task's steps, merging a run's overrides over them, and planning a run.

A step is ``{uid, action, config, iterate?}`` (``skip`` too, in the steps as run). Every error is
an :class:`InvalidRequest` (400) whose message names the step by position and uid, and the field.
"""

from __future__ import annotations

import re
import secrets
import string
from typing import Any

from pydantic import ValidationError

from browserfleet.core.automations.plan import PlannedStep, RunPlan
from browserfleet.core.automations.step_configs import CONFIGS, ITERATE_DEFAULTS, LLM_ACTIONS
from browserfleet.core.errors import InvalidRequest

UID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
_UID_ALPHABET = string.ascii_letters + string.digits
STEP_KEYS = frozenset({"uid", "action", "config", "iterate"})


def new_uid() -> str:
    """A Browserbear-style uid: 18 random letters and digits."""
    return "".join(secrets.choice(_UID_ALPHABET) for _ in range(18))


def validate_steps(raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The steps as stored: each checked (action known, config valid), uids given or generated."""
    steps = [_validate(i, dict(step)) for i, step in enumerate(raw)]
    _check_uids(steps)
    return steps


def apply_overrides(steps: list[dict[str, Any]], overrides: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The steps as run: each override (by ``uid``) merged over its step, then validated again.

    An override's ``config`` keys replace the step's (a new ``action`` replaces the config
    whole); ``skip: true`` keeps the step in the run but does not execute it.
    """
    by_uid = {s["uid"]: i for i, s in enumerate(steps)}
    merged = [dict(s) for s in steps]
    for n, override in enumerate(overrides):
        uid = override.get("uid")
        if uid not in by_uid:
            message = f"steps[{n}]: no step with uid {uid!r} in this task"
            raise InvalidRequest(message, details=[{"field": f"steps[{n}].uid", "message": message}])
        step = merged[by_uid[uid]]
        action = override.get("action") or step["action"]
        config = dict(override.get("config") or {})
        step["config"] = config if action != step["action"] else {**step.get("config", {}), **config}
        step["action"] = action
        if "skip" in override:
            step["skip"] = bool(override["skip"])
    checked = validate_steps([{k: v for k, v in s.items() if k != "skip"} for s in merged])
    return [{**c, **({"skip": True} if s.get("skip") else {})} for c, s in zip(checked, merged, strict=True)]


def plan_run(steps: list[dict[str, Any]], viewport_width: int, viewport_height: int) -> RunPlan:
    """Translate the steps as run (validated) into the action vocabulary; skipped steps drop out."""
    planned = []
    for index, step in enumerate(steps):
        if step.get("skip"):
            continue
        translation = _config(index, step).translate()
        planned.append(
            PlannedStep(
                index=index,
                uid=step["uid"],
                action=step["action"],
                iterate=bool(step.get("iterate")),
                **translation.model_dump(),
            )
        )
    return RunPlan(viewport_width=viewport_width, viewport_height=viewport_height, steps=planned)


def _validate(index: int, step: dict[str, Any]) -> dict[str, Any]:
    uid = step.get("uid") or new_uid()
    step["uid"] = uid
    where = f"steps[{index}] (uid {uid})"
    if not isinstance(uid, str) or not UID_PATTERN.match(uid):
        _fail(index, "uid", f"{where}: uid must be 1-40 letters, digits, '_' or '-'")
    unknown = set(step) - STEP_KEYS
    if unknown:
        _fail(index, sorted(unknown)[0], f"{where}: unknown field {sorted(unknown)[0]!r}")
    action = step.get("action")
    if action not in CONFIGS:
        _fail(index, "action", f"{where}: unknown action {action!r}")
    if action in LLM_ACTIONS:
        _fail(index, "action", f"{where}: {action} needs an LLM provider: no LLM provider configured")
    if step.get("iterate") and index == 0:
        _fail(index, "iterate", f"{where}: iterate needs a previous step whose output is a list")
    config = step.get("config") or {}
    if not isinstance(config, dict):
        _fail(index, "config", f"{where}: config must be an object")
    out: dict[str, Any] = {"uid": uid, "action": action, "config": config}
    if step.get("iterate"):
        out["iterate"] = True
    _config(index, out)
    return out


def _config(index: int, step: dict[str, Any]) -> Any:
    """The step's parsed config (an iterated step gets its item placeholder defaults)."""
    config = step.get("config") or {}
    if step.get("iterate"):
        config = {**ITERATE_DEFAULTS.get(step["action"], {}), **config}
    try:
        return CONFIGS[step["action"]].model_validate(config)
    except ValidationError as exc:
        err = exc.errors()[0]
        path = ".".join(str(p) for p in err["loc"])
        field = f"config.{path}" if path else "config"
        message = str(err["msg"]).removeprefix("Value error, ")
        _fail(index, field, f"steps[{index}] (uid {step['uid']}, {step['action']}): {field}: {message}")


def _check_uids(steps: list[dict[str, Any]]) -> None:
    seen: set[str] = set()
    for index, step in enumerate(steps):
        if step["uid"] in seen:
            _fail(index, "uid", f"steps[{index}] (uid {step['uid']}): duplicate uid")
        seen.add(step["uid"])


def _fail(index: int, field: str, message: str) -> Any:
    raise InvalidRequest(message, details=[{"field": f"steps[{index}].{field}", "message": message}])
