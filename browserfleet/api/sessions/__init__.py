"""The Sessions API family (browserbase-compatible): live browsers driven over CDP.

Every route under ``/v1/sessions`` is here, one module per concern: ``routes`` (create, get, list,
update), ``history`` (logs, rrweb recordings), ``files`` (downloads, uploads),
``recording_downloads`` (per-page MP4), ``live_urls`` (``/debug``), and the endpoints that need the
session's live browser — ``connect`` (the CDP proxy), ``webdriver``, ``live_view`` and ``devtools``,
whose credential is ``live_auth``. The node's internal app (node_app.py) serves this whole family.
"""

from browserfleet.api.sessions.connect import router as _connect
from browserfleet.api.sessions.devtools import router as _devtools
from browserfleet.api.sessions.files import router as _files
from browserfleet.api.sessions.history import router as _history
from browserfleet.api.sessions.live_urls import router as _live_urls
from browserfleet.api.sessions.live_view import router as _live_view
from browserfleet.api.sessions.recording_downloads import router as _recording_downloads
from browserfleet.api.sessions.routes import router
from browserfleet.api.sessions.webdriver import router as _webdriver

router.include_router(_history)
router.include_router(_files)
router.include_router(_live_urls)
router.include_router(_recording_downloads)
router.include_router(_connect)
router.include_router(_webdriver)
router.include_router(_live_view)
router.include_router(_devtools)

__all__ = ["router"]
