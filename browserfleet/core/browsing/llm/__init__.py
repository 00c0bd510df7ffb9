"""Language models behind one interface (:class:`LLMProvider`), chosen by settings.

The provider lives in core, not in node/agent/, because nothing about it is a browser: it is an
outbound HTTP client to a third-party service, like the search backends (core/sessions/search/), and both
the API (is a provider configured? which model does a template name?) and the node's agent use it.
Only this package imports ``httpx`` for models, and only ``openai.py`` catches its errors.

``llm_base_url`` + ``llm_model`` (+ ``llm_api_key``) configure any OpenAI-compatible endpoint;
without both, browsing tasks are refused (:data:`NOT_CONFIGURED` says which settings to set).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from browserfleet.core.browsing.llm.base import (
    ChatRequest,
    ChatResponse,
    Image,
    LLMBadOutput,
    LLMError,
    LLMNotConfigured,
    LLMProvider,
    LLMProviderError,
    Message,
    ToolCall,
    ToolChoice,
    ToolSpec,
    Usage,
)
from browserfleet.core.browsing.llm.openai import OpenAICompatible
from browserfleet.core.browsing.llm.structured import OutputInvalid, Parsed, chat_parsed

if TYPE_CHECKING:  # settings import the core, not the other way round
    from browserfleet.settings import Settings

__all__ = [
    "NOT_CONFIGURED",
    "ChatRequest",
    "ChatResponse",
    "Image",
    "LLMBadOutput",
    "LLMError",
    "LLMNotConfigured",
    "LLMProvider",
    "LLMProviderError",
    "Message",
    "OpenAICompatible",
    "OutputInvalid",
    "Parsed",
    "ToolCall",
    "ToolChoice",
    "ToolSpec",
    "Usage",
    "build_provider",
    "chat_parsed",
    "is_configured",
]

NOT_CONFIGURED = (
    "Browsing tasks need a model provider and none is configured: set llm_base_url "
    "(BROWSERFLEET_LLM_BASE_URL, an OpenAI-compatible chat-completions base URL, e.g. "
    "https://api.openai.com/v1) and llm_model (BROWSERFLEET_LLM_MODEL), and llm_api_key "
    "(BROWSERFLEET_LLM_API_KEY) if the provider needs a key"
)


def is_configured(settings: Settings) -> bool:
    return bool(settings.llm_base_url and settings.llm_model)


def build_provider(settings: Settings, *, model: str | None = None) -> LLMProvider:
    """The configured provider (``model`` overrides ``llm_model``); :class:`LLMNotConfigured`
    when the settings lack it. Build one per task and close it (``async with``) when done."""
    if not settings.llm_base_url or not (model or settings.llm_model):
        raise LLMNotConfigured(NOT_CONFIGURED)
    return OpenAICompatible(
        settings.llm_base_url,
        model or settings.llm_model or "",
        api_key=settings.llm_api_key,
        timeout_s=settings.llm_timeout_s,
        accepts_images=settings.llm_vision,
    )
