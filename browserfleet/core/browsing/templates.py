"""Browsing templates: how the agent works on a task (instructions, model, limits, tools,
screenshot defaults), chosen by the request's ``template`` (a file stem).

Templates are files in ``browsing_templates_dir`` — ``<stem>.yaml``, ``.yml`` or ``.json`` — read
once at start-up; an invalid file is a :class:`Misconfigured` naming it. The built-in ``default``
applies when the request names none (a ``default.yaml`` in the folder replaces it). A template
is resolved into the job's spec when the task is created, so nodes need no template folder.

Fields (all optional)::

    instructions: "Prices are in EUR; answer with the number only."   # added to the system prompt
    model: gpt-4o-mini            # instead of llm_model
    max_steps: 25                 # agent steps (one model answer each) before AGENT_STEP_LIMIT
    max_failures: 3               # steps in a row whose actions all failed before AGENT_STUCK
    loop_limit: 5                 # same action(s) on an unchanged page this often → AGENT_STUCK
    max_actions_per_step: 4       # tool calls run from one answer (the rest are skipped)
    allowed_actions: [navigate, click, type, extract_text]   # tools offered (done always is)
    action_timeout_ms: 5000       # how long click/type/select wait for their element
    screenshots: {mode: every_step, full_page: true}         # when the request has none
    vision: false                 # show the model a screenshot each step (needs llm_vision)
    temperature: 0
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import yaml  # type: ignore[import-untyped]  # no stubs locked (types-PyYAML)
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from browserfleet.core.browsing.tools import DONE, TOOL_NAMES
from browserfleet.core.errors import InvalidRequest, Misconfigured

DEFAULT = "default"
SUFFIXES = (".yaml", ".yml", ".json")
ScreenshotMode = Literal["final_only", "every_step", "on_navigation"]


class Screenshots(BaseModel):
    """``full_page`` applies to ``final_only`` (step screenshots show the viewport)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    mode: ScreenshotMode
    full_page: bool = True


class Template(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = DEFAULT
    instructions: str = ""
    model: str | None = None
    max_steps: int = Field(default=25, ge=1, le=500)
    max_failures: int = Field(default=3, ge=1, le=100)
    loop_limit: int = Field(default=5, ge=2, le=100)
    max_actions_per_step: int = Field(default=4, ge=1, le=20)
    allowed_actions: tuple[str, ...] = TOOL_NAMES
    action_timeout_ms: int = Field(default=5000, ge=100, le=120_000)
    screenshots: Screenshots | None = None
    vision: bool = False
    temperature: float = Field(default=0.0, ge=0, le=2)

    @field_validator("allowed_actions")
    @classmethod
    def _known_tools(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(value) - set(TOOL_NAMES))
        if unknown:
            raise ValueError(f"unknown actions {unknown}; known: {', '.join(TOOL_NAMES)}")
        return tuple(dict.fromkeys((*value, DONE)))


class TemplateBook:
    """The templates by stem (always with ``default``)."""

    def __init__(self, templates: dict[str, Template] | None = None) -> None:
        self._templates = {DEFAULT: Template(), **(templates or {})}

    @classmethod
    def load(cls, folder: Path | None) -> TemplateBook:
        if folder is None:
            return cls()
        if not folder.is_dir():
            raise Misconfigured(f"browsing_templates_dir {folder} is not a folder")
        files = sorted(p for p in folder.iterdir() if p.suffix in SUFFIXES and p.is_file())
        stems = [p.stem for p in files]
        duplicated = sorted({s for s in stems if stems.count(s) > 1})
        if duplicated:
            raise Misconfigured(f"browsing templates {duplicated} exist in more than one format in {folder}")
        return cls({p.stem: _read(p) for p in files})

    @property
    def names(self) -> list[str]:
        return sorted(self._templates)

    def get(self, name: str | None) -> Template:
        template = self._templates.get(name or DEFAULT)
        if template is None:
            message = f"Unknown template {name!r} (known: {', '.join(self.names)})"
            raise InvalidRequest(message, details=[{"field": "template", "message": message}])
        return template


def _read(path: Path) -> Template:
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
        if data is not None and not isinstance(data, dict):
            raise ValueError("a template is a mapping of fields (instructions, model, max_steps, …)")
        return Template.model_validate({**(data or {}), "name": path.stem})
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise Misconfigured(f"browsing template {path}: {_reason(exc)}") from exc


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "template"
        return f"{where}: {str(first['msg']).removeprefix('Value error, ')}"
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
