"""What the node-local router reads from its app, and the caller's project.

The router runs in the embedded app (app.py) and in the node's internal app (node_app.py); both
keep their :class:`~browserfleet.fleet.Fleet` in ``app.state.fleet``, which these routes see only
through :class:`SessionServices` (the Fleet has all of it, structurally). An API key is checked by
the same core service the control plane's routes use (core/accounts.py); errors are core errors,
shaped by the app's exception handlers (the sessions envelope). The API key's carriers are declared
as the same security schemes as the control plane's (api/deps.py, which this layer does not import).
"""

from __future__ import annotations

from typing import Annotated, Protocol

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials
from starlette.requests import HTTPConnection

from browserfleet.core.accounts import Accounts, api_key_of
from browserfleet.core.automations import FileSigner
from browserfleet.core.security_schemes import BB_API_KEY, BEARER
from browserfleet.core.sessions import Sessions
from browserfleet.node.session.live import LiveSessions
from browserfleet.node.session.videos import SessionVideos
from browserfleet.settings import Settings
from browserfleet.store.blobs import BlobStore
from browserfleet.store.records import ProjectRecord


class SessionServices(Protocol):
    """What the node-local router uses of the process it runs in."""

    @property
    def settings(self) -> Settings: ...

    @property
    def live_sessions(self) -> LiveSessions:
        """This process's live sessions (node/session/live.py)."""

    @property
    def accounts(self) -> Accounts:
        """API keys → projects."""

    @property
    def sessions(self) -> Sessions:
        """Sessions as jobs: a project's session, its status (core/sessions/service.py)."""

    @property
    def blobs(self) -> BlobStore:
        """What an ended session left: logs, recording, downloads."""

    @property
    def session_videos(self) -> SessionVideos:
        """Recording downloads: the pages' MP4s (node/session/videos.py)."""

    @property
    def session_video_urls(self) -> FileSigner:
        """Signs the recording downloads' URLs."""


def services_of(connection: HTTPConnection) -> SessionServices:
    services: SessionServices = connection.app.state.fleet
    return services


async def get_services(request: Request) -> SessionServices:
    return services_of(request)


async def get_project(
    request: Request,
    services: Annotated[SessionServices, Depends(get_services)],
    _bearer: Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)],
    _header: Annotated[str | None, Security(BB_API_KEY)],
) -> ProjectRecord:
    return await services.accounts.authenticate(api_key_of(request.headers))


ServicesDep = Annotated[SessionServices, Depends(get_services)]
ProjectDep = Annotated[ProjectRecord, Depends(get_project)]
