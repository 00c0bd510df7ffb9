"""Web search settings (POST /v1/search; see browserfleet/core/sessions/search/): the backend and
what it needs."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import BaseModel, Field, SecretStr, model_validator


class SearchMixin(BaseModel):
    search_backend: Literal["searxng", "exa"] | None = Field(
        default=None, description="web search backend; unset: POST /v1/search answers 503"
    )
    searxng_url: str | None = Field(default=None, description="SearXNG base URL (JSON format enabled)")
    exa_api_key: SecretStr | None = Field(default=None, description="Exa API key (never logged)")
    exa_base_url: str = "https://api.exa.ai"
    search_timeout_s: float = Field(default=10.0, gt=0, description="one call to the search backend")

    @model_validator(mode="after")
    def _check_search(self) -> Self:
        if self.search_backend == "searxng" and not self.searxng_url:
            raise ValueError("search_backend=searxng needs searxng_url (BROWSERFLEET_SEARXNG_URL)")
        if self.search_backend == "exa" and not (self.exa_api_key and self.exa_api_key.get_secret_value()):
            raise ValueError("search_backend=exa needs exa_api_key (BROWSERFLEET_EXA_API_KEY)")
        return self
