"""The node-local router of live sessions: every endpoint that must run next to a session's browser.

One module per endpoint group: ``connect`` (the CDP proxy behind ``connectUrl``), ``webdriver``
(``seleniumRemoteUrl``), ``live_view`` (the interactive viewer), ``devtools`` (Chromium's DevTools
frontend), ``live_urls`` (``/debug``), ``files`` (downloads, uploads), ``history`` (logs, rrweb
recordings) and ``recording_downloads`` (per-page MP4s); ``live_auth`` checks the credential of the
live endpoints, ``deps`` what the routes read from their app (:class:`SessionServices`) and the
caller's project.

The embedded app (app.py) mounts :data:`router`; the node's internal app (node_app.py) serves it;
in distributed mode the control plane relays a running session's requests under the path segments
:func:`node_local_segments` reads from these routes to the session's node (api/relay.py).
"""

from fastapi import APIRouter
from fastapi.routing import iter_route_contexts

from browserfleet.node.session.routes import (
    connect,
    devtools,
    files,
    history,
    live_urls,
    live_view,
    recording_downloads,
    webdriver,
)
from browserfleet.node.session.routes.deps import SessionServices

SESSION_PATH = "/v1/sessions/{session_id}/"

router = APIRouter(prefix="/v1")
for _group in (history, files, live_urls, recording_downloads, connect, webdriver, live_view, devtools):
    router.include_router(_group.router)


def node_local_segments() -> frozenset[str]:
    """The first path segments under ``/v1/sessions/{session_id}/`` that :data:`router` serves
    (``connect``, ``webdriver``, ``live``, …)."""
    paths = (route.path or "" for route in iter_route_contexts(router.routes))
    return frozenset(
        path.removeprefix(SESSION_PATH).split("/", 1)[0] for path in paths if path.startswith(SESSION_PATH)
    )


__all__ = ["SESSION_PATH", "SessionServices", "node_local_segments", "router"]
