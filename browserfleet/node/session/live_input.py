"""What a live viewer may send (node/session/live_view.py), checked, and the CDP command each
becomes.

* ``{"type":"mouse","event":"mouseMoved|mousePressed|mouseReleased",x,y,button,buttons,clickCount,modifiers}``
  and ``{"type":"wheel",x,y,deltaX,deltaY,modifiers}`` → ``Input.dispatchMouseEvent``;
* ``{"type":"key","event":"keyDown|rawKeyDown|keyUp|char",key,code,text,keyCode,modifiers,location}``
  → ``Input.dispatchKeyEvent`` (``text`` only on keyDown/char: it is what the key types);
* ``{"type":"text",text}`` → ``Input.insertText`` (a paste);
* ``{"type":"switch","pageId":ID}`` → show another page (handled by node/session/live_view.py).

Only these messages are accepted, with bounded fields; anything else — malformed JSON, an unknown
``type``, a field out of range — is ignored, never an error: a viewer cannot send arbitrary CDP.
``x``/``y`` are CSS pixels of the page's viewport (the viewer scales its canvas with the frame's
metadata); ``modifiers`` is CDP's bit field (Alt 1, Ctrl 2, Meta 4, Shift 8).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

MAX_MESSAGE_CHARS = 64 * 1024


class _Message(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")


class MouseInput(_Message):
    type: Literal["mouse"]
    event: Literal["mouseMoved", "mousePressed", "mouseReleased"]
    x: float
    y: float
    button: Literal["none", "left", "middle", "right", "back", "forward"] = "none"
    buttons: int = Field(default=0, ge=0, le=31)
    click_count: int = Field(default=0, ge=0, le=3, alias="clickCount")
    modifiers: int = Field(default=0, ge=0, le=15)

    def params(self) -> dict[str, Any]:
        return {
            "type": self.event,
            "x": self.x,
            "y": self.y,
            "button": self.button,
            "buttons": self.buttons,
            "clickCount": self.click_count,
            "modifiers": self.modifiers,
        }


class WheelInput(_Message):
    type: Literal["wheel"]
    x: float
    y: float
    delta_x: float = Field(default=0.0, alias="deltaX")
    delta_y: float = Field(default=0.0, alias="deltaY")
    modifiers: int = Field(default=0, ge=0, le=15)

    def params(self) -> dict[str, Any]:
        return {
            "type": "mouseWheel",
            "x": self.x,
            "y": self.y,
            "deltaX": self.delta_x,
            "deltaY": self.delta_y,
            "modifiers": self.modifiers,
        }


class KeyInput(_Message):
    type: Literal["key"]
    event: Literal["keyDown", "rawKeyDown", "keyUp", "char"]
    key: str = Field(default="", max_length=64)
    code: str = Field(default="", max_length=64)
    text: str = Field(default="", max_length=16)
    key_code: int = Field(default=0, ge=0, le=255, alias="keyCode")
    modifiers: int = Field(default=0, ge=0, le=15)
    location: int = Field(default=0, ge=0, le=3)

    def params(self) -> dict[str, Any]:
        params: dict[str, Any] = {
            "type": self.event,
            "key": self.key,
            "code": self.code,
            "windowsVirtualKeyCode": self.key_code,
            "nativeVirtualKeyCode": self.key_code,
            "modifiers": self.modifiers,
            "location": self.location,
        }
        if self.text and self.event in {"keyDown", "char"}:
            params["text"] = params["unmodifiedText"] = self.text
        return params


class TextInput(_Message):
    type: Literal["text"]
    text: str = Field(max_length=MAX_MESSAGE_CHARS)


class SwitchPage(_Message):
    type: Literal["switch"]
    page_id: str = Field(alias="pageId", min_length=1, max_length=128)


ViewerMessage = Annotated[
    MouseInput | WheelInput | KeyInput | TextInput | SwitchPage, Field(discriminator="type")
]
_messages: TypeAdapter[ViewerMessage] = TypeAdapter(ViewerMessage)


def parse_message(text: str) -> ViewerMessage | None:
    """A viewer message, or None for anything malformed or unknown (ignored, never fatal)."""
    if len(text) > MAX_MESSAGE_CHARS:
        return None
    try:
        return _messages.validate_json(text)
    except ValidationError:
        return None


def input_command(message: MouseInput | WheelInput | KeyInput | TextInput) -> tuple[str, dict[str, Any]]:
    """``(method, params)`` for the page's CDP session."""
    if isinstance(message, MouseInput | WheelInput):
        return "Input.dispatchMouseEvent", message.params()
    if isinstance(message, KeyInput):
        return "Input.dispatchKeyEvent", message.params()
    return "Input.insertText", {"text": message.text}
