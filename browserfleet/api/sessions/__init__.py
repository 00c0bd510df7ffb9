"""The Sessions API family (browserbase-compatible): live browsers driven over CDP."""

from browserfleet.api.sessions.files import router as _files
from browserfleet.api.sessions.history import router as _history
from browserfleet.api.sessions.live import router as _live
from browserfleet.api.sessions.recording_downloads import router as _recording_downloads
from browserfleet.api.sessions.routes import router

router.include_router(_history)
router.include_router(_files)
router.include_router(_live)
router.include_router(_recording_downloads)

__all__ = ["router"]
