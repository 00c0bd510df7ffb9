"""Projects and API keys. Keys are random, shown once, and stored only as a SHA-256 hash."""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from browserfleet.core.errors import InvalidRequest, MissingApiKey, NotFound, Unauthenticated
from browserfleet.store.records import ProjectRecord
from browserfleet.store.repo import LEDGER_KINDS, Store

if TYPE_CHECKING:
    from browserfleet.settings import Settings

KEY_PREFIX = "bf_"
DEFAULT_PROJECT = "default"
_AUTH_CACHE_S = 5.0


def api_key_of(headers: Mapping[str, str]) -> str | None:
    """The API key a request carries: ``Authorization: Bearer KEY`` or ``X-BB-API-Key: KEY``
    (``headers`` looked up by lower-case name, as HTTP frameworks' header mappings do)."""
    auth = headers.get("authorization", "")
    scheme, _, token = auth.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return headers.get("x-bb-api-key") or None


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


@dataclass(frozen=True)
class NewKey:
    project: ProjectRecord
    key: str


class Accounts:
    def __init__(self, store: Store, *, free_cents: int, concurrency: int, timeout_s: int) -> None:
        self.store = store
        self.free_cents = free_cents
        self.concurrency = concurrency
        self.timeout_s = timeout_s
        self._auth_cache: dict[str, tuple[float, ProjectRecord]] = {}

    @classmethod
    def from_settings(cls, store: Store, settings: Settings) -> Accounts:
        s = settings
        return cls(
            store,
            free_cents=s.new_project_free_cents,
            concurrency=s.default_concurrency,
            timeout_s=s.default_job_timeout_s,
        )

    async def create_project(
        self,
        name: str,
        *,
        concurrency: int | None = None,
        timeout_s: int | None = None,
        quota: int | None = None,
    ) -> ProjectRecord:
        if not name.strip():
            raise InvalidRequest("Project name must not be empty")
        project = await self.store.create_project(
            project_id=new_id("prj"),
            name=name,
            concurrency=concurrency or self.concurrency,
            timeout_s=timeout_s or self.timeout_s,
            quota=quota,
        )
        if self.free_cents:
            await self.store.add_ledger_entry(project.id, "free", self.free_cents, "welcome credit")
        return project

    async def project(self, name: str) -> ProjectRecord:
        project = await self.store.project_by_name(name)
        if project is None:
            raise NotFound(f"No project named {name!r}")
        return project

    async def default_project(self) -> ProjectRecord:
        """Project ``default``, created on first use (with no key: keys are made explicitly)."""
        return await self.store.project_by_name(DEFAULT_PROJECT) or await self.create_project(DEFAULT_PROJECT)

    async def create_key(self, project_name: str = DEFAULT_PROJECT) -> NewKey:
        if project_name == DEFAULT_PROJECT:
            project = await self.default_project()
        else:
            project = await self.project(project_name)
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        await self.store.add_api_key(new_id("key"), project.id, hash_key(key), key[:10])
        return NewKey(project=project, key=key)

    async def bootstrap(self) -> NewKey | None:
        """On a first start (no key at all) create project ``default`` and a key for it."""
        if await self.store.count_api_keys():
            return None
        return await self.create_key(DEFAULT_PROJECT)

    async def authenticate(self, key: str | None) -> ProjectRecord:
        if not key:
            raise MissingApiKey("Missing API key: send `Authorization: Bearer <key>`")
        digest = hash_key(key)
        cached = self._auth_cache.get(digest)
        now = time.monotonic()
        if cached and cached[0] > now:
            return cached[1]
        project = await self.store.project_for_key(digest)
        if project is None:
            raise Unauthenticated("The provided API key is invalid or has been revoked")
        self._auth_cache[digest] = (now + _AUTH_CACHE_S, project)
        return project

    async def add_balance(self, project_name: str, cents: int, kind: str) -> dict[str, int]:
        if kind not in LEDGER_KINDS:
            raise InvalidRequest(f"kind must be one of {', '.join(LEDGER_KINDS)}")
        project = await self.project(project_name)
        await self.store.add_ledger_entry(project.id, kind, cents, f"{kind} credit")
        return await self.store.balance(project.id)
