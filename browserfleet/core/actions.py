"""The one action vocabulary.

Browser7 ``waitFor`` entries, Browserbear steps and the browsing agent's tool calls are all
translated into these actions and run by the one step runner (node/steps.py). An action is plain
data: validating it needs no browser. When you add an action, add its model to ``Action`` below
(:data:`ACTIONS` follows), its handler in the step runner (``@handles(Model)``) and its row in
docs/actions.md; a test fails for each one missing.
"""

from __future__ import annotations

import re
from typing import Annotated, Final, Literal, get_args

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, model_validator
from pydantic.json_schema import WithJsonSchema

from browserfleet.core.firewall.urls import WEB_SCHEMES, WEB_URL_SCHEMA, BlockedUrl, check_web_url, scheme_of

Ms = Annotated[int, Field(ge=0, le=600_000)]
# ``{{item}}`` / ``{{item.field}}``: where an iterated step's item goes (core/automations/plan.py).
ITEM_PLACEHOLDER: Final = re.compile(r"\{\{\s*item(?:\.([A-Za-z0-9_-]+))?\s*\}\}")
BOUND: Final = {"bound": True}  # validation context of actions whose placeholders were filled in


def _web_url(value: str, info: ValidationInfo) -> str:
    """http(s) only (core/firewall/urls.py). A step that iterates may hold a URL template: its
    item comes first, or after an http(s) scheme; once the item is bound (context :data:`BOUND`)
    the URL is checked like any other."""
    placeholder = ITEM_PLACEHOLDER.search(value)
    if placeholder is None or (info.context or {}).get("bound"):
        return check_web_url(value)
    head = value[: placeholder.start()]
    if head and scheme_of(head) not in WEB_SCHEMES:
        raise BlockedUrl("Invalid URL: only http:// and https:// URLs are allowed")
    return value


# A URL a step may open, fetch or download. Actions are validated when a task, render or tool call
# is accepted, and again on the node when an iterated item binds into them (node/automation.py).
WebUrl = Annotated[str, AfterValidator(_web_url), WithJsonSchema({"type": "string", **WEB_URL_SCHEMA})]
WaitState = Literal["visible", "hidden", "attached", "detached"]
DEFAULT_TIMEOUT_MS = 30_000


class _Action(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Targeted(_Action):
    selector: str = Field(min_length=1)
    timeout_ms: Ms = DEFAULT_TIMEOUT_MS


class Goto(_Action):
    action: Literal["goto"] = "goto"
    url: WebUrl
    wait_until: Literal["load", "domcontentloaded", "networkidle", "commit"] = "load"
    timeout_ms: Ms = DEFAULT_TIMEOUT_MS


class GoBack(_Action):
    action: Literal["go_back"] = "go_back"


class GoForward(_Action):
    action: Literal["go_forward"] = "go_forward"


class Reload(_Action):
    action: Literal["reload"] = "reload"


class Click(_Targeted):
    action: Literal["click"] = "click"


class Type(_Targeted):
    action: Literal["type"] = "type"
    text: str
    clear: bool = True
    delay_ms: Annotated[int, Field(ge=0, le=1000)] = 0


class Press(_Action):
    action: Literal["press"] = "press"
    key: str = Field(min_length=1)
    selector: str | None = None


class Hover(_Targeted):
    action: Literal["hover"] = "hover"


class Select(_Targeted):
    action: Literal["select"] = "select"
    values: list[str]


class Scroll(_Action):
    action: Literal["scroll"] = "scroll"
    selector: str | None = None
    x: int = 0
    y: int = 0
    to: Literal["bottom", "top"] | None = None


class Delay(_Action):
    action: Literal["delay"] = "delay"
    duration_ms: Ms


class WaitForSelector(_Targeted):
    action: Literal["wait_for_selector"] = "wait_for_selector"
    state: WaitState = "visible"


class WaitForText(_Action):
    action: Literal["wait_for_text"] = "wait_for_text"
    text: str = Field(min_length=1)
    selector: str | None = None
    timeout_ms: Ms = DEFAULT_TIMEOUT_MS


class WaitForNavigation(_Action):
    action: Literal["wait_for_navigation"] = "wait_for_navigation"
    url: str | None = None
    timeout_ms: Ms = DEFAULT_TIMEOUT_MS


class Screenshot(_Action):
    action: Literal["screenshot"] = "screenshot"
    format: Literal["jpeg", "png"] = "png"
    quality: Annotated[int, Field(ge=1, le=100)] | None = None
    full_page: bool = False
    selector: str | None = None


class SaveText(_Targeted):
    action: Literal["save_text"] = "save_text"
    all: bool = False


class SaveAttribute(_Targeted):
    action: Literal["save_attribute"] = "save_attribute"
    attribute: str = Field(min_length=1)
    all: bool = False


class SaveHtml(_Action):
    action: Literal["save_html"] = "save_html"
    selector: str | None = None


class StructuredField(_Action):
    name: str = Field(min_length=1)
    selector: str = Field(min_length=1)
    attribute: str | None = None  # None: the element's text


class SaveStructuredData(_Targeted):
    """``selector`` picks each record's container; ``fields`` are relative to it."""

    action: Literal["save_structured_data"] = "save_structured_data"
    fields: list[StructuredField] = Field(min_length=1)


class SavePdf(_Action):
    action: Literal["save_pdf"] = "save_pdf"
    format: str = "A4"
    landscape: bool = False


class UploadFile(_Targeted):
    action: Literal["upload_file"] = "upload_file"
    files: list[str] = Field(min_length=1)  # names of files already stored for the job


class Download(_Action):
    """Download a file: the one a click on ``selector`` starts, or ``url`` fetched with the page's
    cookies (through the context's network, so the egress policy applies). Exactly one of them."""

    action: Literal["download"] = "download"
    selector: str | None = None
    url: WebUrl | None = None
    timeout_ms: Ms = DEFAULT_TIMEOUT_MS

    @model_validator(mode="after")
    def _one_source(self) -> Download:
        if (self.selector is None) == (self.url is None):
            raise ValueError("give exactly one of selector or url")
        return self


class Evaluate(_Action):
    action: Literal["evaluate"] = "evaluate"
    expression: str = Field(min_length=1)


class Fetch(_Action):
    """Fetch a URL from inside the page's browsing context (cookies and origin of the page)."""

    action: Literal["fetch"] = "fetch"
    url: WebUrl
    timeout_ms: Ms = DEFAULT_TIMEOUT_MS


class SolveCaptcha(_Action):
    action: Literal["solve_captcha"] = "solve_captcha"
    kind: Literal["auto", "recaptcha_v2", "recaptcha_v3", "hcaptcha", "turnstile"] = "auto"
    timeout_ms: Ms = 120_000


class NewTab(_Action):
    action: Literal["new_tab"] = "new_tab"
    url: WebUrl | None = None


class SwitchTab(_Action):
    action: Literal["switch_tab"] = "switch_tab"
    index: Annotated[int, Field(ge=0)]


class CloseTab(_Action):
    action: Literal["close_tab"] = "close_tab"


Action = Annotated[
    Goto
    | GoBack
    | GoForward
    | Reload
    | Click
    | Type
    | Press
    | Hover
    | Select
    | Scroll
    | Delay
    | WaitForSelector
    | WaitForText
    | WaitForNavigation
    | Screenshot
    | SaveText
    | SaveAttribute
    | SaveHtml
    | SaveStructuredData
    | SavePdf
    | UploadFile
    | Download
    | Evaluate
    | Fetch
    | SolveCaptcha
    | NewTab
    | SwitchTab
    | CloseTab,
    Field(discriminator="action"),
]


def _registry() -> dict[str, type[BaseModel]]:
    models: tuple[type[BaseModel], ...] = get_args(get_args(Action)[0])
    return {model.model_fields["action"].default: model for model in models}


# Every action by name: the one registry of the vocabulary. The step runner registers one handler
# per name (node/steps.py ``handles``; tests/unit/node/test_steps_registry.py checks none is
# missing) and docs/actions.md documents each (tests/unit/test_docs.py).
ACTIONS: Final[dict[str, type[BaseModel]]] = _registry()


class ActionList(BaseModel):
    """A validated sequence of actions (the unit a step runner executes)."""

    model_config = ConfigDict(frozen=True)
    actions: list[Action]
