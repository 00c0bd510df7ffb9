"""How a task's steps and a run's step overrides are documented (OpenAPI).

They are validated by core/automations/steps.py, whose errors name the step (position and uid) and
the field, so the request models keep them as plain objects; these annotations only give the
document their shape, built from the same config classes (core/automations/step_configs.py,
``CONFIGS``) that validation uses:

* a step: ``{uid?, action, config, iterate?}``, one schema per action (``action`` decides which
  ``config``); the first step cannot iterate (nothing before it made a list);
* an override: ``{uid, skip?}`` or ``{uid, action, config, skip?}`` (a new action replaces the
  step's config whole). An override's ``config`` without ``action`` is merged over the step's and
  checked then: its shape depends on the task, so the document leaves it out.

Actions that need a model provider (``LLM_ACTIONS``) are refused by this server and left out too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, cast

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    TypeAdapter,
    ValidationError,
    create_model,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from browserfleet.core.automations.step_configs import CONFIGS, LLM_ACTIONS, StepConfig
from browserfleet.core.automations.steps import UID_PATTERN
from browserfleet.core.automations.tasks import MAX_STEPS

Uid = Annotated[str, Field(pattern=UID_PATTERN.pattern)]
_FORBID = ConfigDict(extra="forbid")


def _camel(action: str) -> str:
    return "".join(part.title() for part in action.split("_"))


def _const(value: str) -> Any:
    return Literal[value]


def _config_field(config: type[StepConfig]) -> Any:
    """``config`` may be left out only when ``{}`` is a valid config of the action."""
    try:
        config.model_validate({})
    except ValidationError:
        return (config, ...)
    return (config | None, None)


def _step(action: str, config: type[StepConfig]) -> type[BaseModel]:
    return create_model(
        f"{_camel(action)}Step",
        __config__=_FORBID,
        uid=(Uid | None, None),
        action=(_const(action), ...),
        config=_config_field(config),
        iterate=(bool, False),
    )


def _override(action: str, config: type[StepConfig]) -> type[BaseModel]:
    return create_model(
        f"{_camel(action)}Override",
        __config__=_FORBID,
        uid=(Uid, ...),
        action=(_const(action), ...),
        config=_config_field(config),
        skip=(bool, False),
    )


class SkipOverride(BaseModel):
    """Keeps the step in the run, skipped (``skip: true``) or as it is."""

    model_config = _FORBID
    uid: Uid
    skip: bool = False


_DOCUMENTED = {action: config for action, config in CONFIGS.items() if action not in LLM_ACTIONS}
Step: Any = Annotated[
    Union[tuple(_step(action, config) for action, config in _DOCUMENTED.items())],  # noqa: UP007
    Field(discriminator="action"),
]
Override: Any = Union[(SkipOverride, *(_override(action, config) for action, config in _DOCUMENTED.items()))]


@dataclass(frozen=True)
class _DocumentedAs:
    """Documents a list field as a list of ``item`` (validation stays the field's own), of at
    most ``max_items``; ``first_not`` names a boolean that the first item may not set."""

    item: Any
    first_not: str | None = None
    max_items: int | None = None

    def __get_pydantic_json_schema__(
        self, _schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        documented = handler(TypeAdapter(cast(Any, list)[self.item]).core_schema)
        if self.max_items is not None:
            documented["maxItems"] = self.max_items
        if self.first_not is not None:
            first = {"allOf": [documented["items"]], "properties": {self.first_not: {"enum": [False]}}}
            documented["prefixItems"] = [first]
        return documented


StepsDoc = _DocumentedAs(Step, first_not="iterate", max_items=MAX_STEPS)
OverridesDoc = _DocumentedAs(Override)
