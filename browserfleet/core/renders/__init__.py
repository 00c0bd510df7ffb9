"""The Renders family's core: what a render asks of a node (``spec``) and the render service that
admits, queues and reads renders back within the API window (``service``). See docs/architecture.md.

The service's names are imported on first use: ``spec`` alone (what the request schemas and
``browserfleet render --server`` need) does not load the store."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from browserfleet.core.renders.spec import CaptchaMode, RenderSpec, ScreenshotSpec

if TYPE_CHECKING:
    from browserfleet.core.renders.service import RenderPolicy, Renders, RenderView

__all__ = ["CaptchaMode", "RenderPolicy", "RenderSpec", "RenderView", "Renders", "ScreenshotSpec"]
_SERVICE = frozenset({"RenderPolicy", "RenderView", "Renders"})


def __getattr__(name: str) -> Any:
    if name in _SERVICE:
        from browserfleet.core.renders import service

        return getattr(service, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
