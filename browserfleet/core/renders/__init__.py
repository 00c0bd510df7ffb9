"""The Renders family's core: what a render asks of a node (``spec``) and the render service that
admits, queues and reads renders back within the API window (``service``). See docs/architecture.md."""

from browserfleet.core.renders.service import RenderPolicy, Renders, RenderView
from browserfleet.core.renders.spec import CaptchaMode, RenderSpec, ScreenshotSpec

__all__ = ["CaptchaMode", "RenderPolicy", "RenderSpec", "RenderView", "Renders", "ScreenshotSpec"]
