"""The WebDriver policy (core/firewall/webdriver.py): paths normalised before any decision, the
command table, server-built New Session capabilities, and the bodies that carry a URL, a path or a
CDP command."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from browserfleet.core.firewall import CdpPolicy
from browserfleet.core.firewall.webdriver import (
    WebDriverRefused,
    check_body,
    new_session_body,
    parse_command,
)

DEBUGGER = "127.0.0.1:9222"


@pytest.fixture
def policy(tmp_path: Path) -> CdpPolicy:
    (tmp_path / "uploads").mkdir()
    (tmp_path / "uploads" / "cv.pdf").write_bytes(b"%PDF-")
    return CdpPolicy(downloads=tmp_path / "downloads", file_roots=(tmp_path / "uploads",))


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "./session"),  # finding 1: normalised to /session by the forwarding client
        ("POST", "session/."),
        ("POST", "x/../session"),
        ("POST", "session//abc/url"),
        ("GET", "session/abc/../../shutdown"),
        ("GET", "shutdown"),
        ("GET", "sessions"),
        ("POST", "session/abc/goog/cast/start_tab_mirroring"),
        ("POST", "session/abc/chromium/launch_app"),
        ("POST", "session/abc/se/file"),
        ("GET", "session/abc/se/files"),
        ("POST", "session\\abc\\url"),
        ("POST", "session/abc/url%2F..%2F..%2Fshutdown"),
        ("POST", "session/abc/url?x=1"),
        ("POST", "session/abc/url#x"),
        ("POST", "session/ab\x00c/url"),
        ("PUT", "session/abc/url"),
        ("GET", "session/abc/element/def/attribute/a/b"),
    ],
)
def test_paths_off_the_command_table_are_refused(method: str, path: str) -> None:
    with pytest.raises(WebDriverRefused):
        parse_command(method, path)


@pytest.mark.parametrize(
    ("method", "path", "forwarded"),
    [
        ("POST", "session", "session"),
        ("POST", "/session/", "session"),
        ("get", "status", "status"),
        ("POST", "session/5f1e/url", "session/5f1e/url"),
        ("DELETE", "session/5f1e", "session/5f1e"),
        (
            "GET",
            "session/5f1e/element/f.A1.d.B2.e.3/attribute/data-sku",
            "session/5f1e/element/f.A1.d.B2.e.3/attribute/data-sku",
        ),
        ("POST", "session/5f1e/goog/cdp/execute", "session/5f1e/goog/cdp/execute"),
    ],
)
def test_commands_are_forwarded_as_checked(method: str, path: str, forwarded: str) -> None:
    assert parse_command(method, path).path == forwarded


def test_new_session_capabilities_are_built_by_the_server() -> None:
    requested = {
        "capabilities": {
            "alwaysMatch": {
                "browserName": "chrome",
                "pageLoadStrategy": "eager",
                "proxy": {"proxyType": "manual", "httpProxy": "127.0.0.1:9"},
                "goog:chromeOptions": {
                    "args": ["--renderer-cmd-prefix=/bin/sh -c id>/tmp/MARKER"],
                    "binary": "/bin/sh",
                    "extensions": ["AAAA"],
                    "debuggerAddress": "127.0.0.1:1",
                    "w3c": True,
                },
                "webSocketUrl": True,
                "se:downloadsEnabled": True,
            },
            "firstMatch": [{"goog:chromeOptions": {"args": ["--no-sandbox"], "localState": {}}}],
        }
    }
    built = json.loads(new_session_body(json.dumps(requested).encode(), DEBUGGER))
    assert built == {
        "capabilities": {
            "alwaysMatch": {
                "pageLoadStrategy": "eager",
                "browserName": "chrome",
                "goog:chromeOptions": {"debuggerAddress": DEBUGGER},
            },
            "firstMatch": [{}],
        }
    }


@pytest.mark.parametrize(
    "body", [b"", b"{}", b"[]", b'{"capabilities": 5}', b'{"capabilities": {"firstMatch": 5}}']
)
def test_any_new_session_body_attaches_to_the_session(body: bytes) -> None:
    built = json.loads(new_session_body(body or b"{}", DEBUGGER))
    assert built["capabilities"]["alwaysMatch"]["goog:chromeOptions"] == {"debuggerAddress": DEBUGGER}


def test_malformed_new_session_json_is_refused() -> None:
    with pytest.raises(WebDriverRefused):
        new_session_body(b"{not json", DEBUGGER)


def body_for(path: str, value: Any, policy: CdpPolicy) -> Any:
    return json.loads(check_body(parse_command("POST", path), json.dumps(value).encode(), policy))


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", " FILE:///etc/passwd", "view-source:file:///x", "chrome://version"]
)
def test_navigate_to_refuses_non_web_urls(policy: CdpPolicy, url: str) -> None:
    with pytest.raises(WebDriverRefused):
        body_for("session/s/url", {"url": url}, policy)


def test_navigate_to_takes_web_and_data_urls(policy: CdpPolicy) -> None:
    assert body_for("session/s/url", {"url": "data:text/html,hi"}, policy) == {"url": "data:text/html,hi"}
    assert body_for("session/s/url", {"url": "http://127.0.0.1/"}, policy) == {"url": "http://127.0.0.1/"}


@pytest.mark.parametrize(
    "route", ["goog/cdp/execute", "chromium/send_command_and_get_result", "chromium/send_command"]
)
def test_cdp_pass_through_uses_the_cdp_policy(policy: CdpPolicy, route: str) -> None:
    path = f"session/s/{route}"
    with pytest.raises(WebDriverRefused):
        body_for(path, {"cmd": "Page.navigate", "params": {"url": "file:///etc/passwd"}}, policy)
    with pytest.raises(WebDriverRefused):
        body_for(
            path,
            {"cmd": "Target.createBrowserContext", "params": {"proxyServer": "http://127.0.0.1:9"}},
            policy,
        )
    sent = body_for(
        path,
        {
            "cmd": "Browser.setDownload\u0042ehavior",
            "params": {"behavior": "allow", "downloadPath": "/tmp/x"},
        },
        policy,
    )
    assert sent["params"]["downloadPath"] == str(policy.downloads)


def test_send_keys_cannot_name_a_server_file(policy: CdpPolicy, tmp_path: Path) -> None:
    with pytest.raises(WebDriverRefused):
        body_for("session/s/element/e/value", {"text": "/etc/passwd", "value": list("/etc/passwd")}, policy)
    with pytest.raises(WebDriverRefused):
        body_for("session/s/element/e/value", {"text": f"{tmp_path}/uploads/cv.pdf\n/etc/hostname"}, policy)
    inside = f"{tmp_path}/uploads/cv.pdf"
    assert body_for("session/s/element/e/value", {"text": inside}, policy) == {"text": inside}
    assert (
        body_for("session/s/element/e/value", {"text": "/not/a/file here"}, policy)["text"]
        == "/not/a/file here"
    )


@pytest.mark.parametrize("contained", [True, False])
def test_send_keys_takes_an_upload_by_the_path_the_upload_route_names(
    tmp_path: Path, contained: bool
) -> None:
    """chromedriver sits next to the browser: ``/uploads/<name>`` goes on as the browser sees the
    file (unchanged in its sandbox, the node's path when uncontained)."""
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    (uploads / "cv.pdf").write_bytes(b"%PDF-")
    policy = CdpPolicy(
        file_roots=(uploads,), uploads=uploads, uploads_in_browser="/uploads" if contained else None
    )
    seen = "/uploads/cv.pdf" if contained else str(uploads / "cv.pdf")
    sent = body_for("session/s/element/e/value", {"text": "/uploads/cv.pdf", "x": 1}, policy)
    assert sent == {"text": seen, "x": 1}
    two = body_for("session/s/element/e/value", {"text": f"/uploads/cv.pdf\n{uploads}/cv.pdf"}, policy)
    assert two == {"text": f"{seen}\n{seen}"}
    # text that names no upload is typed as it is; a path out of the folder is refused
    assert body_for("session/s/element/e/value", {"text": "/uploads/none.pdf"}, policy) == {
        "text": "/uploads/none.pdf"
    }
    with pytest.raises(WebDriverRefused):
        body_for("session/s/element/e/value", {"text": "/uploads/../../../../../../etc/passwd"}, policy)
