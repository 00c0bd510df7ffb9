"""What a live viewer may send (node/session/live_input.py) and the live URLs' credentials
(node/session/routes/live_auth.py): only checked messages become CDP input; tokens open one session
until they expire. The whole viewer, end to end, is tests/api/sessions/test_live_view.py."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from browserfleet.core.sessions.live_tokens import mint_token
from browserfleet.node.session.live import LiveSession
from browserfleet.node.session.live_input import (
    KeyInput,
    MouseInput,
    SwitchPage,
    TextInput,
    WheelInput,
    input_command,
    parse_message,
)
from browserfleet.node.session.routes.live_auth import credential_ok


def test_mouse_wheel_key_and_text_become_cdp_input() -> None:
    mouse = parse_message(
        '{"type":"mouse","event":"mousePressed","x":12.5,"y":40,"button":"left","buttons":1,"clickCount":2}'
    )
    assert isinstance(mouse, MouseInput)
    assert input_command(mouse) == (
        "Input.dispatchMouseEvent",
        {
            "type": "mousePressed",
            "x": 12.5,
            "y": 40,
            "button": "left",
            "buttons": 1,
            "clickCount": 2,
            "modifiers": 0,
        },
    )
    wheel = parse_message('{"type":"wheel","x":1,"y":2,"deltaY":120}')
    assert isinstance(wheel, WheelInput)
    assert input_command(wheel)[1] == {
        "type": "mouseWheel", "x": 1, "y": 2, "deltaX": 0.0, "deltaY": 120, "modifiers": 0,
    }  # fmt: skip
    key = parse_message('{"type":"key","event":"keyDown","key":"a","code":"KeyA","text":"a","keyCode":65}')
    assert isinstance(key, KeyInput)
    method, params = input_command(key)
    assert method == "Input.dispatchKeyEvent"
    assert params["text"] == params["unmodifiedText"] == "a" and params["windowsVirtualKeyCode"] == 65
    key_up = parse_message('{"type":"key","event":"keyUp","key":"a","text":"a"}')
    assert isinstance(key_up, KeyInput) and "text" not in input_command(key_up)[1]  # keyUp types nothing
    text = parse_message(json.dumps({"type": "text", "text": "pasted ✓"}))
    assert isinstance(text, TextInput) and input_command(text) == ("Input.insertText", {"text": "pasted ✓"})
    switch = parse_message('{"type":"switch","pageId":"ABC123"}')
    assert isinstance(switch, SwitchPage) and switch.page_id == "ABC123"


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[]",
        '{"type":"cdp","method":"Runtime.evaluate","params":{"expression":"1"}}',  # no raw CDP
        '{"type":"mouse","event":"mouseMoved","x":"left","y":0}',
        '{"type":"mouse","event":"dragIntercepted","x":0,"y":0}',
        '{"type":"key","event":"keyDown","keyCode":999}',
        '{"type":"switch","pageId":""}',
        json.dumps({"type": "text", "text": "x" * 70_000}),  # past the message size bound
    ],
)
def test_anything_else_is_ignored(text: str) -> None:
    assert parse_message(text) is None


def test_tokens_open_their_session_until_they_expire(tmp_path: Path) -> None:
    live = LiveSession(
        session_id="ses_a", project_id="p", signing_key="k" * 43, keep_alive=False,
        browser_ws_url="ws://127.0.0.1:1/devtools/browser/x", http_url="http://127.0.0.1:1", pid=1,
        user_data_dir=tmp_path,
    )  # fmt: skip
    now = time.time()
    assert credential_ok(live, live.signing_key)
    assert not credential_ok(live, None) and not credential_ok(live, "") and not credential_ok(live, "k")
    token = mint_token(live.signing_key, live.session_id, 60, now=now)
    assert credential_ok(live, token, now=now) and credential_ok(live, token, now=now + 59)
    assert not credential_ok(live, token, now=now + 61)  # expired
    expires, _, signature = token.partition(".")
    assert not credential_ok(live, f"{int(expires) + 1}.{signature}", now=now)  # a later expiry: forged
    assert not credential_ok(live, mint_token(live.signing_key, "ses_b", 60, now=now), now=now)
    assert not credential_ok(live, mint_token("another key", live.session_id, 60, now=now), now=now)
