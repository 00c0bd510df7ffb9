"""The Browserbear-style step actions: each one's ``config`` schema and its translation into the
one action vocabulary (core/actions.py). When you add an action, add its config class here, to
``CONFIGS``, and a row to docs/automations.md.

Wire names are Browserbear's (``waitUntil``, ``full_page``, ``parent_selector``); ``timeout`` on the
element actions is in milliseconds; ``wait.duration`` is in seconds.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from browserfleet.core import actions as a
from browserfleet.core.automations.plan import ITEM, Output

Selector = Annotated[str, Field(min_length=1)]
TimeoutMs = Annotated[int, Field(ge=0, le=600_000)]
SCROLL_STEP_PX = 600


class Translation(BaseModel):
    actions: list[a.Action]
    output: Output = Output.NONE
    file_ext: str | None = None
    upload_selector: str | None = None


class StepConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    def translate(self) -> Translation:
        raise NotImplementedError


class _Targeted(StepConfig):
    selector: Selector
    timeout: TimeoutMs = a.DEFAULT_TIMEOUT_MS


class Go(StepConfig):
    url: a.WebUrl = Field(min_length=1)
    wait_until: Literal["load", "domcontentloaded", "networkidle"] = Field("load", alias="waitUntil")
    timeout: TimeoutMs = a.DEFAULT_TIMEOUT_MS

    def translate(self) -> Translation:
        return Translation(
            actions=[a.Goto(url=self.url, wait_until=self.wait_until, timeout_ms=self.timeout)]
        )


class Click(_Targeted):
    def translate(self) -> Translation:
        return Translation(actions=[a.Click(selector=self.selector, timeout_ms=self.timeout)])


class EnterText(_Targeted):
    text: str

    def translate(self) -> Translation:
        return Translation(actions=[a.Type(selector=self.selector, text=self.text, timeout_ms=self.timeout)])


class Keypress(StepConfig):
    key: str = Field(min_length=1)
    selector: str | None = None

    def translate(self) -> Translation:
        return Translation(actions=[a.Press(key=self.key, selector=self.selector)])


class SelectOption(_Targeted):
    value: str | list[str]

    def translate(self) -> Translation:
        values = [self.value] if isinstance(self.value, str) else self.value
        return Translation(
            actions=[a.Select(selector=self.selector, values=values, timeout_ms=self.timeout)],
            output=Output.VALUE,
        )


class Hover(_Targeted):
    def translate(self) -> Translation:
        return Translation(actions=[a.Hover(selector=self.selector, timeout_ms=self.timeout)])


def _exactly_one(first: str, second: str) -> ConfigDict:
    """Documents "exactly one of ``first`` and ``second``" (the other absent or null)."""
    return ConfigDict(
        json_schema_extra={
            "anyOf": [
                {"required": [given], "properties": {given: {"type": "string"}, other: {"type": "null"}}}
                for given, other in ((first, second), (second, first))
            ]
        }
    )


class Scroll(StepConfig):
    model_config = _exactly_one("direction", "selector")

    direction: Literal["up", "down", "top", "bottom"] | None = None
    selector: str | None = None
    amount: int = Field(SCROLL_STEP_PX, ge=1, le=100_000)  # pixels, for up/down

    @model_validator(mode="after")
    def _one_target(self) -> Scroll:
        if (self.direction is None) == (self.selector is None):
            raise ValueError("give exactly one of direction or selector")
        return self

    def translate(self) -> Translation:
        if self.selector:
            return Translation(actions=[a.Scroll(selector=self.selector)])
        if self.direction in ("top", "bottom"):
            return Translation(actions=[a.Scroll(to=self.direction)])
        return Translation(actions=[a.Scroll(y=self.amount if self.direction == "down" else -self.amount)])


class Wait(StepConfig):
    duration: float = Field(ge=0, le=600)  # seconds

    def translate(self) -> Translation:
        return Translation(actions=[a.Delay(duration_ms=round(self.duration * 1000))])


class WaitForElement(_Targeted):
    state: a.WaitState = "visible"

    def translate(self) -> Translation:
        act = a.WaitForSelector(selector=self.selector, state=self.state, timeout_ms=self.timeout)
        return Translation(actions=[act])


class GoBack(StepConfig):
    def translate(self) -> Translation:
        return Translation(actions=[a.GoBack()])


class UploadFile(StepConfig):
    selector: Selector
    url: a.WebUrl = Field(min_length=1)

    def translate(self) -> Translation:
        return Translation(
            actions=[a.Download(url=self.url)], output=Output.UPLOAD, upload_selector=self.selector
        )


class SolveCaptcha(StepConfig):
    kind: Literal["auto", "recaptcha_v2", "recaptcha_v3", "hcaptcha", "turnstile"] = "auto"

    def translate(self) -> Translation:
        return Translation(actions=[a.SolveCaptcha(kind=self.kind)], output=Output.VALUE)


class TakeScreenshot(StepConfig):
    full_page: bool = False
    selector: str | None = None

    def translate(self) -> Translation:
        act = a.Screenshot(format="png", full_page=self.full_page, selector=self.selector)
        return Translation(actions=[act], output=Output.FILE, file_ext="png")


class SaveText(_Targeted):
    all: bool = False

    def translate(self) -> Translation:
        act = a.SaveText(selector=self.selector, all=self.all, timeout_ms=self.timeout)
        return Translation(actions=[act], output=Output.VALUE)


class SaveAttribute(_Targeted):
    attribute: str = Field(min_length=1)
    all: bool = False

    def translate(self) -> Translation:
        act = a.SaveAttribute(
            selector=self.selector, attribute=self.attribute, all=self.all, timeout_ms=self.timeout
        )
        return Translation(actions=[act], output=Output.VALUE)


class SaveImage(_Targeted):
    all: bool = False

    def translate(self) -> Translation:
        # the element's resolved URL (currentSrc), then fetched by the node and stored
        expr = _query_js(self.selector, "el => el.currentSrc || el.src", self.all)
        wait = a.WaitForSelector(selector=self.selector, state="attached", timeout_ms=self.timeout)
        return Translation(actions=[wait, a.Evaluate(expression=expr)], output=Output.IMAGES)


class SaveLinks(StepConfig):
    selector: str = Field("a", min_length=1)

    def translate(self) -> Translation:
        # absolute URLs (``a.href`` resolves relative links against the page)
        expr = _query_js(self.selector, "el => el.href", True)
        return Translation(actions=[a.Evaluate(expression=expr)], output=Output.VALUE)


class SaveHtml(StepConfig):
    selector: str | None = None

    def translate(self) -> Translation:
        return Translation(actions=[a.SaveHtml(selector=self.selector)], output=Output.VALUE)


class SavePdf(StepConfig):
    format: str = "A4"
    landscape: bool = False

    def translate(self) -> Translation:
        act = a.SavePdf(format=self.format, landscape=self.landscape)
        return Translation(actions=[act], output=Output.FILE, file_ext="pdf")


class DataField(StepConfig):
    name: str = Field(min_length=1)
    selector: Selector
    attribute: str | None = None


class SaveStructuredData(StepConfig):
    parent_selector: Selector
    fields: list[DataField] = Field(min_length=1)
    timeout: TimeoutMs = a.DEFAULT_TIMEOUT_MS

    def translate(self) -> Translation:
        fields = [
            a.StructuredField(name=f.name, selector=f.selector, attribute=f.attribute) for f in self.fields
        ]
        act = a.SaveStructuredData(selector=self.parent_selector, fields=fields, timeout_ms=self.timeout)
        return Translation(actions=[act], output=Output.VALUE)


class DownloadFile(StepConfig):
    model_config = _exactly_one("selector", "url")

    selector: str | None = None
    url: a.WebUrl | None = None
    timeout: TimeoutMs = a.DEFAULT_TIMEOUT_MS

    @model_validator(mode="after")
    def _one_source(self) -> DownloadFile:
        if (self.selector is None) == (self.url is None):
            raise ValueError("give exactly one of selector or url")
        return self

    def translate(self) -> Translation:
        act = a.Download(selector=self.selector, url=self.url, timeout_ms=self.timeout)
        return Translation(actions=[act], output=Output.DOWNLOAD)


class RunJavascript(StepConfig):
    code: str = Field(min_length=1)

    def translate(self) -> Translation:
        # the code is a function body: `return document.title`
        return Translation(
            actions=[a.Evaluate(expression=f"async () => {{\n{self.code}\n}}")], output=Output.VALUE
        )


class AiSaveData(StepConfig):
    model_config = ConfigDict(extra="allow")


CONFIGS: dict[str, type[StepConfig]] = {
    "go": Go,
    "click": Click,
    "enter_text": EnterText,
    "keypress": Keypress,
    "select_option": SelectOption,
    "hover": Hover,
    "scroll": Scroll,
    "wait": Wait,
    "wait_for_element": WaitForElement,
    "go_back": GoBack,
    "upload_file": UploadFile,
    "solve_captcha": SolveCaptcha,
    "take_screenshot": TakeScreenshot,
    "save_text": SaveText,
    "save_attribute": SaveAttribute,
    "save_image": SaveImage,
    "save_links": SaveLinks,
    "save_html": SaveHtml,
    "save_pdf": SavePdf,
    "save_structured_data": SaveStructuredData,
    "download_file": DownloadFile,
    "run_javascript": RunJavascript,
    "ai_save_data": AiSaveData,
    "ai_save_links": AiSaveData,
}
LLM_ACTIONS = frozenset({"ai_save_data", "ai_save_links"})
# what an iterated step gets when its config leaves the item's place empty
ITERATE_DEFAULTS: dict[str, dict[str, Any]] = {"go": {"url": ITEM}}


def _query_js(selector: str, pick: str, all_matches: bool) -> str:
    sel = json.dumps(selector)
    if all_matches:
        return f"Array.from(document.querySelectorAll({sel})).map({pick})"
    return f"(() => {{ const el = document.querySelector({sel}); return el ? ({pick})(el) : null; }})()"
