"""``POST /v1/search`` (browserbase-compatible): web search through the configured backend.

Body ``{query (1-200 chars), numResults (1-25, default 10)}``; the SDK's optional ``provider`` and
``mode`` are accepted: ``mode`` is ignored (each backend uses its own default), ``provider`` must
name the configured backend when given (there is one per server). Answers
``{requestId, query, results[]}``, ``requestId`` being the backend's own id when it has one (Exa),
else a fresh ``srch_…`` id. Errors use the Sessions family's envelope ``{statusCode, error,
message}``: 400 for bad input, 503 when no backend is configured (the message names the settings),
502 when the backend fails; 5xx carry ``x-should-retry: false`` (a retry would not help).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.json_schema import SkipJsonSchema

from browserfleet.api.deps import ProjectDep
from browserfleet.core.accounts import new_id
from browserfleet.core.errors import InvalidRequest, Unavailable
from browserfleet.core.sessions.search import MAX_RESULTS, NOT_CONFIGURED, SearchBackend, SearchHit
from browserfleet.core.sessions.wire import omitted

router = APIRouter(prefix="/v1", tags=["sessions"])
MAX_QUERY_CHARS = 200


class SearchRequest(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    query: str = Field(min_length=1, max_length=MAX_QUERY_CHARS)
    num_results: int = Field(default=10, ge=1, le=MAX_RESULTS, alias="numResults")
    provider: str | None = None
    mode: str | None = None

    @field_validator("query")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("query must not be blank")
        return value


class SearchResult(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    id: str
    url: str
    title: str
    author: str | SkipJsonSchema[None] = omitted()
    published_date: str | SkipJsonSchema[None] = omitted("publishedDate", format="date-time")
    image: str | SkipJsonSchema[None] = omitted()
    favicon: str | SkipJsonSchema[None] = omitted()


class SearchResponse(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    request_id: str = Field(alias="requestId")
    query: str
    results: list[SearchResult]


def backend_of(request: Request) -> SearchBackend:
    """The app's backend (set by ``create_app``); 503 naming the settings when there is none.

    Called in the handler, not as a dependency, so a bad body is a 400 even when search is off."""
    backend: SearchBackend | None = getattr(request.app.state, "search_backend", None)
    if backend is None:
        raise Unavailable(NOT_CONFIGURED)
    return backend


def _check_provider(provider: str | None, backend: SearchBackend) -> None:
    if provider is not None and provider != backend.name:
        message = (
            f"provider {provider!r} is not available on this server; omit provider to use its "
            f"search backend ({backend.name})"
        )
        raise InvalidRequest(message, details=[{"field": "provider", "message": message}])


def _result(hit: SearchHit) -> SearchResult:
    return SearchResult(
        id=hit.id,
        url=hit.url,
        title=hit.title,
        author=hit.author,
        published_date=hit.published_date,
        image=hit.image,
        favicon=hit.favicon,
    )


@router.post(
    "/search",
    response_model=SearchResponse,
    response_model_by_alias=True,
    responses={
        502: {"description": "The search backend failed"},
        503: {"description": "No search backend is configured (the message names the settings)"},
    },
)
async def search(body: SearchRequest, project: ProjectDep, request: Request) -> SearchResponse:
    backend = backend_of(request)
    _check_provider(body.provider, backend)
    page = await backend.search(body.query, body.num_results)
    return SearchResponse(
        request_id=page.request_id or new_id("srch"),
        query=body.query,
        results=[_result(hit) for hit in page.hits[: body.num_results]],
    )
