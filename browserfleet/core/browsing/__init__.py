"""Browsing tasks: natural-language tasks run by a browser agent (see docs/browsing.md).

``spec`` (the request and the job spec), ``templates``, ``tools`` (the agent's tools as shared
actions), ``routing`` (filter, session_key, fanout), ``tasks`` (the service). The agent itself
runs on a node: browserfleet/node/agent/.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from browserfleet.core.admission import Admission
from browserfleet.core.browsing.llm import is_configured
from browserfleet.core.browsing.spec import BrowsingRequest
from browserfleet.core.browsing.tasks import BrowsingPolicy, BrowsingTasks, TaskView
from browserfleet.core.browsing.templates import Screenshots, Template, TemplateBook
from browserfleet.dispatch.base import Dispatcher
from browserfleet.store.blobs import BlobStore
from browserfleet.store.repo import Store

if TYPE_CHECKING:  # settings import the core, not the other way round
    from browserfleet.settings import Settings

__all__ = [
    "BrowsingPolicy",
    "BrowsingRequest",
    "BrowsingTasks",
    "Screenshots",
    "TaskView",
    "Template",
    "TemplateBook",
    "build_browsing",
]


def build_browsing(
    settings: Settings, store: Store, blobs: BlobStore, dispatcher: Dispatcher, admission: Admission
) -> BrowsingTasks:
    """The service as the settings configure it (templates read now: a bad one stops the start)."""
    policy = BrowsingPolicy(
        llm_configured=is_configured(settings),
        default_timeout_s=settings.browsing_default_timeout_s,
        sync_wait_s=settings.browsing_sync_wait_s,
        keep_blobs_days=settings.browsing_screenshot_days,
    )
    templates = TemplateBook.load(settings.browsing_templates_dir)
    return BrowsingTasks(store, blobs, dispatcher, admission, templates, policy)
