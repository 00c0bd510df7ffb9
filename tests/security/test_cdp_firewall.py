"""The CDP policy (core/firewall/cdp.py), table by table: every method that can carry a URL, a
path, a proxy or a process argument, in the spellings a check on text would miss."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from browserfleet.core.firewall import CdpPolicy, Forward, Refuse
from browserfleet.core.firewall.cdp import OPEN_DOMAINS, RULES, UPLOADS_PATH


@pytest.fixture
def policy(tmp_path: Path) -> CdpPolicy:
    (tmp_path / "downloads").mkdir()
    (tmp_path / "uploads").mkdir()
    (tmp_path / "uploads" / "cv.pdf").write_bytes(b"%PDF-")
    return CdpPolicy(
        downloads=tmp_path / "downloads", file_roots=(tmp_path / "uploads", tmp_path / "downloads")
    )


def command(method: str, params: dict[str, Any] | None = None, **extra: Any) -> str:
    return json.dumps({"id": 7, "method": method, "params": params or {}, **extra})


def forwarded(verdict: Forward | Refuse) -> dict[str, Any]:
    assert isinstance(verdict, Forward), verdict
    sent: dict[str, Any] = json.loads(verdict.text)
    return sent


def refused(verdict: Forward | Refuse) -> dict[str, Any]:
    assert isinstance(verdict, Refuse), verdict
    reply: dict[str, Any] = json.loads(verdict.reply)
    assert reply["error"]["code"] == -32000 and reply["error"]["message"].startswith("browserfleet: ")
    return reply


BLOCKED_URLS = [
    "file:///etc/passwd",
    "FILE:///etc/passwd",
    "  file:///etc/passwd",
    "\x00file:///etc/passwd",
    "fi\tle:///etc/passwd",
    "fi\nle:///etc/passwd",
    "view-source:file:///etc/passwd",
    "view-source:http://127.0.0.1/",
    "chrome://settings",
    "chrome://version",
    "devtools://devtools/bundled/inspector.html",
    "chrome-extension://abcdefghijklmnop/options.html",
    "chrome-untrusted://terms",
    "javascript:alert(1)",
    "filesystem:http://x/temporary/a",
    "about:config",
    "ftp://example.com/",
    "/etc/passwd",
    "//127.0.0.1/x",
    "http:///no-host",
]
NAVIGABLE_URLS = ["http://127.0.0.1:8000/x", "https://example.com", "HTTPS://Example.com/", "about:blank"]
NAVIGABLE_URLS += ["data:text/html,<h1>hi</h1>"]


@pytest.mark.parametrize("url", BLOCKED_URLS)
@pytest.mark.parametrize(
    ("method", "param"),
    [
        ("Page.navigate", "url"),
        ("Target.createTarget", "url"),
        ("Network.loadNetworkResource", "url"),
        ("Fetch.continueRequest", "url"),
        ("Network.continueInterceptedRequest", "url"),
    ],
)
def test_non_web_urls_are_refused_wherever_a_url_enters(
    policy: CdpPolicy, method: str, param: str, url: str
) -> None:
    reply = refused(policy.inspect(command(method, {param: url, "requestId": "r", "frameId": "f"})))
    assert reply["id"] == 7
    assert param in reply["error"]["message"]


@pytest.mark.parametrize("url", NAVIGABLE_URLS)
def test_web_urls_navigate(policy: CdpPolicy, url: str) -> None:
    sent = forwarded(policy.inspect(command("Page.navigate", {"url": url}, sessionId="S1")))
    assert sent == {"id": 7, "method": "Page.navigate", "params": {"url": url}, "sessionId": "S1"}


def test_the_url_sent_is_the_one_a_browser_reads(policy: CdpPolicy) -> None:
    sent = forwarded(policy.inspect(command("Page.navigate", {"url": " \thttp://127.0.0.1/\n "})))
    assert sent["params"]["url"] == "http://127.0.0.1/"


@pytest.mark.parametrize(
    "text",
    [
        # the escaped spelling that got past a text search (finding 4)
        '{"id":7,"method":"Browser.setDownload\\u0042ehavior","params":{"behavior":"allow",'
        '"downloadPath":"/tmp/elsewhere"}}',
        '{"id":7,"method":"Browser.setDownloadBehavior","params":{"behavior":"allow",'
        '"downloadPath":"/tmp/elsewhere"}}',
        '{"id":7,"method":"Page.setDownloadBehavior","params":{"behavior":"allowAndName",'
        '"downloadPath":"/tmp/elsewhere"}}',
        '{"id":7,"method":"Browser.setDownloadBehavior","params":{"behavior":"allow",'
        '"downloadPath":"/tmp/elsewhere","downloadPath":"/tmp/elsewhere2"}}',
    ],
)
def test_download_paths_are_forced_into_the_session(policy: CdpPolicy, text: str) -> None:
    sent = forwarded(policy.inspect(text))
    assert sent["params"]["downloadPath"] == str(policy.downloads)
    assert sent["params"]["behavior"] == "allowAndName"
    assert "/tmp/elsewhere" not in json.dumps(sent)


def test_deny_drops_any_download_path(policy: CdpPolicy) -> None:
    text = command("Browser.setDownloadBehavior", {"behavior": "deny", "downloadPath": "/etc"})
    assert forwarded(policy.inspect(text))["params"] == {"behavior": "deny"}


@pytest.mark.parametrize(
    "params",
    [
        {"proxyServer": "http://127.0.0.1:9", "proxyBypassList": "*"},
        {"proxyServer": "socks5://169.254.169.254:1080"},
        {"proxyBypassList": "<-loopback>"},
        {"originsWithUniversalNetworkAccess": ["https://example.com"]},
    ],
)
def test_contexts_cannot_bring_their_own_proxy(policy: CdpPolicy, params: dict[str, Any]) -> None:
    reply = refused(policy.inspect(command("Target.createBrowserContext", params)))
    assert "not allowed" in reply["error"]["message"]


def test_contexts_without_a_proxy_are_created(policy: CdpPolicy) -> None:
    params = {"disposeOnDetach": True}
    assert forwarded(policy.inspect(command("Target.createBrowserContext", params)))["params"] == params


def test_file_inputs_take_only_the_session_files(policy: CdpPolicy, tmp_path: Path) -> None:
    inside = str(tmp_path / "uploads" / "cv.pdf")
    sent = forwarded(policy.inspect(command("DOM.setFileInputFiles", {"files": [inside], "nodeId": 3})))
    assert sent["params"] == {"files": [inside], "nodeId": 3}
    for outside in ["/etc/passwd", str(tmp_path / "uploads" / ".." / "secret.key"), "secret.key"]:
        refused(policy.inspect(command("DOM.setFileInputFiles", {"files": [inside, outside]})))
    (tmp_path / "uploads" / "link").symlink_to("/etc/passwd")
    refused(policy.inspect(command("DOM.setFileInputFiles", {"files": [str(tmp_path / "uploads/link")]})))


@pytest.mark.parametrize("contained", [True, False])
def test_file_inputs_take_uploads_by_the_path_the_upload_route_names(tmp_path: Path, contained: bool) -> None:
    """``/uploads/<name>`` (what POST /v1/sessions/{id}/uploads answers) is the session's upload,
    sent on as the browser sees it: at /uploads in its sandbox, else at the node's path."""
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    (uploads / "cv.pdf").write_bytes(b"%PDF-")
    policy = CdpPolicy(
        downloads=tmp_path / "downloads",
        file_roots=(uploads, tmp_path / "downloads"),
        uploads=uploads,
        uploads_in_browser=UPLOADS_PATH if contained else None,
    )
    seen = "/uploads/cv.pdf" if contained else str(uploads / "cv.pdf")
    for given in ("/uploads/cv.pdf", str(uploads / "cv.pdf")):
        sent = forwarded(policy.inspect(command("DOM.setFileInputFiles", {"files": [given], "nodeId": 3})))
        assert sent["params"] == {"files": [seen], "nodeId": 3}
    drag = {"type": "drop", "x": 1, "y": 1, "data": {"items": [], "files": ["/uploads/cv.pdf"]}}
    assert forwarded(policy.inspect(command("Input.dispatchDragEvent", drag)))["params"]["data"]["files"] == [
        seen
    ]
    for outside in ("/uploads/../../etc/passwd", "/uploads//etc/passwd", "/uploads/../secret.key"):
        refused(policy.inspect(command("DOM.setFileInputFiles", {"files": [outside]})))


@pytest.mark.parametrize(
    "method",
    [
        "Target.setRemoteLocations",
        "Target.exposeDevToolsProtocol",
        "Target.sendMessageToTarget",
        "Extensions.loadUnpacked",
        "PWA.install",
        "Tethering.bind",
        "SystemInfo.getProcessInfo",
        "Browser.getBrowserCommandLine",
        "Cast.setSinkToUse",
        "page.navigate",  # method names are case-sensitive: an unknown domain
        "Page.Navigate",
        "Page",
        "Page.",
        "Runtime",
        "Nope.thing",
    ],
)
def test_methods_off_the_allow_list_are_refused(policy: CdpPolicy, method: str) -> None:
    reply = refused(policy.inspect(command(method, {"url": "http://127.0.0.1/", "port": 9})))
    assert reply["id"] == 7


def test_tracing_takes_no_raw_perfetto_config(policy: CdpPolicy) -> None:
    refused(policy.inspect(command("Tracing.start", {"perfettoConfig": "AAAA"})))
    assert (
        forwarded(policy.inspect(command("Tracing.start", {"traceConfig": {}})))["method"] == "Tracing.start"
    )


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[]",
        '"Page.navigate"',
        '{"id": "7", "method": "Page.enable"}',
        '{"id": true, "method": "Page.enable"}',
        '{"id": 7}',
        '{"id": 7, "method": "Page.enable", "params": []}',
        '{"id": 7, "method": "Page.enable", "sessionId": 5}',
        '{"id": 7, "method": "Page.enable", "extra": 1}',
        '{"id": 7, "method": "Runtime.evaluate", "params": {"expression": NaN}}',
    ],
)
def test_malformed_messages_are_refused(policy: CdpPolicy, text: str) -> None:
    assert isinstance(policy.inspect(text), Refuse)


def test_duplicate_keys_cannot_hide_a_method(policy: CdpPolicy) -> None:
    """Whatever the browser's parser does with duplicates, it only ever sees the re-encoded value."""
    text = '{"id":7,"method":"Page.navigate","method":"Runtime.evaluate","params":{"expression":"1"}}'
    sent = forwarded(policy.inspect(text))
    assert text.count("method") == 2 and json.dumps(sent).count("method") == 1
    text = '{"id":7,"method":"Runtime.evaluate","method":"Page.navigate","params":{"url":"file:///etc"}}'
    refused(policy.inspect(text))


def test_ordinary_client_traffic_passes_unchanged(policy: CdpPolicy) -> None:
    for method, params in [
        ("Runtime.evaluate", {"expression": "document.title", "returnByValue": True}),
        ("Target.setAutoAttach", {"autoAttach": True, "waitForDebuggerOnStart": True, "flatten": True}),
        ("Input.dispatchMouseEvent", {"type": "mousePressed", "x": 1, "y": 2}),
        ("Emulation.setDeviceMetricsOverride", {"width": 1, "height": 1, "deviceScaleFactor": 1}),
        ("Page.addScriptToEvaluateOnNewDocument", {"source": "1"}),
        ("Network.setExtraHTTPHeaders", {"headers": {"x": "y"}}),
        ("Fetch.fulfillRequest", {"requestId": "1", "responseCode": 200}),
    ]:
        assert forwarded(policy.inspect(command(method, params)))["params"] == params


def test_the_test_only_switch_passes_everything(tmp_path: Path) -> None:
    off = CdpPolicy(downloads=tmp_path, enabled=False)
    text = command("Page.navigate", {"url": "file:///etc/passwd"})
    assert off.inspect(text) == Forward(text)


def test_dropped_files_are_session_files_too(policy: CdpPolicy, tmp_path: Path) -> None:
    drag = {"type": "drop", "x": 1, "y": 1, "data": {"items": [], "dragOperationsMask": 1}}
    assert forwarded(policy.inspect(command("Input.dispatchDragEvent", drag)))["params"] == drag
    inside = {**drag, "data": {**drag["data"], "files": [str(tmp_path / "uploads" / "cv.pdf")]}}
    assert forwarded(policy.inspect(command("Input.dispatchDragEvent", inside)))["params"] == inside
    outside = {**drag, "data": {**drag["data"], "files": ["/etc/passwd"]}}
    refused(policy.inspect(command("Input.dispatchDragEvent", outside)))


def test_every_rule_names_a_method_of_a_domain_not_already_open() -> None:
    """A rule on a method of an open domain must be a narrowing one (a rule always wins)."""
    for method, rule in RULES.items():
        domain, _, name = method.partition(".")
        assert name, method
        if domain in OPEN_DOMAINS:
            assert getattr(rule, "__name__", "") != "_allow", method
