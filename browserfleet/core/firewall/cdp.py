"""The CDP policy: every message a client sends a session's browser, parsed and checked first.

A client message is parsed as JSON (so ``"Browser.setDownload\\u0042ehavior"`` *is*
``Browser.setDownloadBehavior``) and must be an object with an integer ``id``, a string ``method``
and, optionally, an object ``params`` and a string ``sessionId``; anything else is refused. What
reaches the browser is the message **re-encoded from the parsed value**, never the client's text,
so the browser cannot read something the policy did not see (duplicate keys, odd escapes).

Methods are an allow-list: a method passes only if its domain is in :data:`OPEN_DOMAINS` (all of
its methods pass unchanged) or the method itself has a rule in :data:`RULES` (forced parameters,
checked URLs or paths, or refused). Every other method is refused with a CDP error reply that
names the method, and the browser never sees it. A refused message costs the client nothing but
that reply: the connection stays open.

When you add a rule, also add it to docs/security.md (the table of methods) and a row to
tests/security/test_cdp_firewall.py.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Final

from browserfleet.core.firewall.urls import BlockedUrl, check_navigable_url, check_web_url

__all__ = ["OPEN_DOMAINS", "RULES", "UPLOADS_PATH", "CdpPolicy", "Forward", "Refuse"]

# How a session's clients name its uploads: ``/uploads/<name>`` (POST /v1/sessions/{id}/uploads
# answers it), never the node's folder; a contained browser sees its uploads folder at this path.
UPLOADS_PATH: Final = "/uploads"

# Domains whose every method only acts inside the browser's pages and contexts: no URL, file path,
# proxy or process argument crosses them. (Page and Network are not here: some of their methods do.)
OPEN_DOMAINS: Final = frozenset(
    {
        "Accessibility",
        "Animation",
        "Audits",
        "Autofill",
        "BackgroundService",
        "CSS",
        "CacheStorage",
        "Console",
        "DOMDebugger",
        "DOMSnapshot",
        "DOMStorage",
        "Debugger",
        "DeviceAccess",
        "DeviceOrientation",
        "Emulation",
        "EventBreakpoints",
        "FedCm",
        "HeadlessExperimental",
        "HeapProfiler",
        "IO",
        "IndexedDB",
        "Input",
        "Inspector",
        "LayerTree",
        "Log",
        "Media",
        "Memory",
        "Overlay",
        "Performance",
        "PerformanceTimeline",
        "Preload",
        "Profiler",
        "Runtime",
        "Schema",
        "Security",
        "ServiceWorker",
        "Storage",
        "WebAudio",
        "WebAuthn",
    }
)

Params = dict[str, Any]


@dataclass(frozen=True)
class Forward:
    """Send ``text`` (the re-encoded message) to the browser."""

    text: str


@dataclass(frozen=True)
class Refuse:
    """Send ``reply`` (a CDP error answer) back to the client; nothing reaches the browser."""

    reply: str
    method: str
    reason: str


class _Refused(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class CdpPolicy:
    """The policy for one session's clients.

    ``downloads``: the session's downloads folder (every download behaviour is pointed there);
    ``file_roots``: the only folders whose files a client may put in a file input (the session's
    uploads and downloads). ``uploads``: the session's uploads folder, which clients name
    :data:`UPLOADS_PATH` (``/uploads/<name>``); ``uploads_in_browser``: where the browser itself
    sees that folder when not at its own path (a contained browser: :data:`UPLOADS_PATH`), so the
    path sent on is the browser's. ``enabled=False`` is the test-only switch (settings
    ``protocol_firewall``) that lets everything through unchanged.
    """

    downloads: Path | None = None
    file_roots: tuple[Path, ...] = ()
    uploads: Path | None = None
    uploads_in_browser: str | None = None
    enabled: bool = True
    refused: list[str] = field(default_factory=list, compare=False)  # methods refused, for logs

    def inspect(self, text: str) -> Forward | Refuse:
        """What to do with one client text message."""
        if not self.enabled:
            return Forward(text)
        try:
            message = json.loads(text, parse_constant=_no_constants)
        except ValueError:
            return _refusal(None, None, "", "the message is not valid JSON")
        if not isinstance(message, dict):
            return _refusal(None, None, "", "a CDP message is a JSON object")
        return self.inspect_message(message)

    def inspect_message(self, message: dict[str, Any]) -> Forward | Refuse:
        """Check a parsed message; :class:`Forward` carries the re-encoded, possibly rewritten one."""
        ident, method, session = message.get("id"), message.get("method"), message.get("sessionId")
        try:
            params = _envelope(message)
            checked = self.check(str(method), params)
        except _Refused as refused:
            self.refused.append(str(method))
            return _refusal(ident, session, str(method), refused.reason)
        out: dict[str, Any] = {"id": ident, "method": method, "params": checked}
        if session is not None:
            out["sessionId"] = session
        return Forward(json.dumps(out, separators=(",", ":"), allow_nan=False))

    def check(self, method: str, params: Params) -> Params:
        """The parameters to send for ``method`` (forced or checked), or :class:`_Refused`."""
        rule = RULES.get(method)
        if rule is not None:
            return rule(self, params)
        domain, _, name = method.partition(".")
        if domain in OPEN_DOMAINS and name:
            return params
        raise _Refused(f"{method} is not allowed on this server")

    # --- rules --------------------------------------------------------------------------------

    def download_behavior(self, params: Params) -> Params:
        """Downloads land in the session's folder only: ``allow`` → ``allowAndName`` there."""
        behavior = params.get("behavior")
        if behavior not in ("deny", "allow", "allowAndName", "default"):
            raise _Refused("behavior must be deny, allow, allowAndName or default")
        forced: Params = {"behavior": behavior}
        if "browserContextId" in params:
            forced["browserContextId"] = _string(params, "browserContextId")
        if "eventsEnabled" in params:
            forced["eventsEnabled"] = bool(params["eventsEnabled"])
        if behavior in ("allow", "allowAndName"):
            if self.downloads is None:
                raise _Refused("downloads are not available on this connection")
            forced["behavior"] = "allowAndName"
            forced["downloadPath"] = str(self.downloads)
        return forced

    def file_inputs(self, params: Params) -> Params:
        """``DOM.setFileInputFiles``: only files inside the session's uploads/downloads folders."""
        files = params.get("files")
        if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
            raise _Refused("files must be a list of paths")
        resolved = [self._session_file(f) for f in files]
        return {**params, "files": resolved}

    def drag_files(self, params: Params) -> Params:
        """``Input.dispatchDragEvent``: dropped files are session files too (``data.files``)."""
        data = params.get("data")
        if not isinstance(data, dict) or "files" not in data:
            return params
        return {**params, "data": {**data, **self.file_inputs({"files": data["files"]})}}

    def node_path(self, given: str) -> str:
        """Where ``given`` is on the node: ``/uploads/<name>`` in the session's uploads folder,
        anything else as given (checked by the rules, not here)."""
        if self.uploads is not None and given.startswith(UPLOADS_PATH + "/"):
            return str(self.uploads / given.removeprefix(UPLOADS_PATH + "/"))
        return given

    def _session_file(self, given: str) -> str:
        path = Path(os.path.realpath(self.node_path(given)))
        if not any(path.is_relative_to(root) for root in self._roots()):
            raise _Refused(
                "files must be uploaded to the session first (POST /v1/sessions/{id}/uploads) "
                "and named by the path that upload returns"
            )
        if self.uploads is not None and self.uploads_in_browser is not None:
            uploads = Path(os.path.realpath(self.uploads))
            if path.is_relative_to(uploads):  # the browser sees the folder elsewhere
                return str(PurePosixPath(self.uploads_in_browser, path.relative_to(uploads)))
        return str(path)

    def _roots(self) -> Iterable[Path]:
        return (Path(os.path.realpath(root)) for root in self.file_roots)


def _envelope(message: dict[str, Any]) -> Params:
    """The params of a well-formed command (integer id, string method, object params, string
    sessionId, nothing else), or :class:`_Refused`."""
    ident = message.get("id")
    if not isinstance(ident, int) or isinstance(ident, bool):
        raise _Refused("a CDP command needs an integer id")
    if not isinstance(message.get("method"), str):
        raise _Refused("a CDP command needs a string method")
    if not isinstance(message.get("sessionId", ""), str):
        raise _Refused("sessionId must be a string")
    unknown = set(message) - {"id", "method", "params", "sessionId"}
    if unknown:
        raise _Refused(f"unexpected field {sorted(unknown)[0]!r}")
    params = message.get("params", {})
    if not isinstance(params, dict):
        raise _Refused("params must be an object")
    return params


def _no_constants(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _refusal(ident: Any, session: Any, method: str, reason: str) -> Refuse:
    """A CDP error answer (code -32000, as Chromium's own refusals) naming the reason."""
    reply: dict[str, Any] = {"id": ident if isinstance(ident, int) else 0}
    if isinstance(session, str):
        reply["sessionId"] = session
    reply["error"] = {"code": -32000, "message": f"browserfleet: {reason}"}
    return Refuse(reply=json.dumps(reply), method=method, reason=reason)


def _string(params: Params, name: str) -> str:
    value = params[name]
    if not isinstance(value, str):
        raise _Refused(f"{name} must be a string")
    return value


def _url(params: Params, name: str, check: Callable[[object], str], *, required: bool) -> Params:
    if name not in params:
        if required:
            raise _Refused(f"{name} is required")
        return params
    try:
        return {**params, name: check(params[name])}
    except BlockedUrl as exc:
        raise _Refused(f"{name}: {exc}") from exc


def _navigate(_: CdpPolicy, params: Params) -> Params:
    return _url(params, "url", check_navigable_url, required=True)


def _new_target(_: CdpPolicy, params: Params) -> Params:
    return _url(params, "url", check_navigable_url, required=False)


def _web_resource(_: CdpPolicy, params: Params) -> Params:
    return _url(params, "url", check_web_url, required=True)


def _optional_web_url(_: CdpPolicy, params: Params) -> Params:
    return _url(params, "url", check_web_url, required=False)


def _new_context(_: CdpPolicy, params: Params) -> Params:
    """A client's own contexts leave through the session's egress like every other: no proxy of
    their own, no origin with universal network access."""
    for name in ("proxyServer", "proxyBypassList", "originsWithUniversalNetworkAccess"):
        if name in params:
            raise _Refused(
                f"{name} is not allowed: a session's traffic leaves through the proxies it was "
                "created with (the session's proxies option)"
            )
    return params


def _tracing(_: CdpPolicy, params: Params) -> Params:
    """Traces stream back over the protocol; a raw Perfetto config (which can name outputs of its
    own) is not accepted."""
    if "perfettoConfig" in params:
        raise _Refused("perfettoConfig is not allowed; use traceConfig")
    return params


def _allow(_: CdpPolicy, params: Params) -> Params:
    return params


def _refuse(reason: str) -> Callable[[CdpPolicy, Params], Params]:
    def refuse(_: CdpPolicy, __: Params) -> Params:
        raise _Refused(reason)

    return refuse


Rule = Callable[[CdpPolicy, Params], Params]


def _methods(domain: str, names: str, rule: Rule) -> dict[str, Rule]:
    return {f"{domain}.{name}": rule for name in names.split()}


_PAGE = (
    "addCompilationCache addScriptToEvaluateOnNewDocument bringToFront captureScreenshot "
    "captureSnapshot clearCompilationCache close crash createIsolatedWorld disable enable "
    "getAppId getAppManifest getFrameTree getInstallabilityErrors getLayoutMetrics "
    "getNavigationHistory getResourceContent getResourceTree handleJavaScriptDialog "
    "navigateToHistoryEntry printToPDF produceCompilationCache reload "
    "removeScriptToEvaluateOnNewDocument resetNavigationHistory screencastFrameAck searchInResource "
    "setAdBlockingEnabled setBypassCSP setDocumentContent setFontFamilies setFontSizes "
    "setInterceptFileChooserDialog setLifecycleEventsEnabled setPrerenderingAllowed "
    "setRPHRegistrationMode setSPCTransactionMode setWebLifecycleState startScreencast stopLoading "
    "stopScreencast waitForDebugger getOriginTrials getPermissionsPolicyState getAdScriptAncestry"
)
_NETWORK = (
    "clearAcceptedEncodingsOverride clearBrowserCache clearBrowserCookies "
    "deleteCookies disable emulateNetworkConditions emulateNetworkConditionsByRule enable "
    "enableReportingApi getAllCookies getCertificate getCookies getRequestPostData "
    "getResponseBody getResponseBodyForInterception getSecurityIsolationStatus "
    "overrideNetworkState replayXHR searchInResponseBody setAcceptedEncodings setAttachDebugStack "
    "setBlockedURLs setBypassServiceWorker setCacheDisabled setCookie setCookies "
    "setExtraHTTPHeaders setRequestInterception setUserAgentOverride "
    "streamResourceContent takeResponseBodyForInterceptionAsStream configureDurableMessages "
    "setCookieControls"
)
_DOM = (
    "collectClassNamesFromSubtree copyTo describeNode disable discardSearchResults enable focus "
    "getAttributes getBoxModel getContainerForNode getContentQuads getDocument getFlattenedDocument "
    "getFrameOwner getNodeForLocation getNodeStackTraces getNodesForSubtreeByStyle getOuterHTML "
    "getQueryingDescendantsForContainer getRelayoutBoundary getSearchResults getTopLayerElements "
    "getElementByRelation getAnchorElement getDetachedDomNodes hideHighlight highlightNode "
    "highlightRect markUndoableState moveTo performSearch pushNodeByPathToFrontend "
    "pushNodesByBackendIdsToFrontend querySelector querySelectorAll redo removeAttribute removeNode "
    "requestChildNodes requestNode resolveNode scrollIntoViewIfNeeded setAttributeValue "
    "setAttributesAsText setInspectedNode setNodeName setNodeStackTracesEnabled setNodeValue "
    "setOuterHTML undo forceShowPopover"
)
_TARGET = (
    "activateTarget attachToBrowserTarget attachToTarget autoAttachRelated closeTarget "
    "detachFromTarget disposeBrowserContext getBrowserContexts getTargetInfo getTargets "
    "setAutoAttach setDiscoverTargets getDevToolsTarget"
)
_BROWSER = (
    "cancelDownload close crash crashGpuProcess getHistogram getHistograms getVersion "
    "getWindowBounds getWindowForTarget grantPermissions resetPermissions setContentsSize "
    "setDockTile setPermission setWindowBounds executeBrowserCommand"
)
_FETCH = "continueResponse continueWithAuth disable enable failRequest fulfillRequest getResponseBody "
_FETCH += "takeResponseBodyAsStream"
_EXTENSIONS = "getExtensions getStorageItems setStorageItems removeStorageItems clearStorageItems"
_TRACING = "end getCategories recordClockSyncMarker requestMemoryDump"
_DENIED: dict[str, str] = {
    "Browser.getBrowserCommandLine": "the browser's command line is not available",
    "Target.setRemoteLocations": "the browser may not reach other debugging locations",
    "Target.exposeDevToolsProtocol": "a page may not be given the DevTools protocol",
    "Target.sendMessageToTarget": "use flat sessions (sessionId) instead",
    "Target.openDevTools": "DevTools is served by debuggerUrl",
    "Extensions.loadUnpacked": "extensions are loaded with the session's extensionId",
    "Extensions.uninstall": "extensions are managed with the session's extensionId",
    "PWA.install": "web apps may not be installed",
}

RULES: Final[dict[str, Rule]] = {
    **_methods("Page", _PAGE, _allow),
    **_methods("Network", _NETWORK, _allow),
    **_methods("DOM", _DOM, _allow),
    **_methods("Target", _TARGET, _allow),
    **_methods("Browser", _BROWSER, _allow),
    **_methods("Fetch", _FETCH, _allow),
    **_methods("Extensions", _EXTENSIONS, _allow),
    **_methods("Tracing", _TRACING, _allow),
    "PWA.getOsAppState": _allow,
    "Page.navigate": _navigate,
    "Page.setDownloadBehavior": CdpPolicy.download_behavior,
    "Browser.setDownloadBehavior": CdpPolicy.download_behavior,
    "Target.createTarget": _new_target,
    "Target.createBrowserContext": _new_context,
    "Network.loadNetworkResource": _web_resource,
    "Fetch.continueRequest": _optional_web_url,
    "Network.continueInterceptedRequest": _optional_web_url,
    "Tracing.start": _tracing,
    "DOM.setFileInputFiles": CdpPolicy.file_inputs,
    "Input.dispatchDragEvent": CdpPolicy.drag_files,
    **{method: _refuse(reason) for method, reason in _DENIED.items()},
}
