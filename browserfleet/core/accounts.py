"""Projects and API keys. Keys are random, shown once, and stored only as a SHA-256 hash."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from browserfleet.core.errors import InvalidRequest, MissingApiKey, NotFound, Unauthenticated
from browserfleet.core.keys import KEY_PREFIX, api_key_of, hash_key, new_id, new_key, same_secret
from browserfleet.store.records import ApiKeyRecord, ProjectRecord
from browserfleet.store.repo import LEDGER_KINDS, Store

if TYPE_CHECKING:
    from browserfleet.settings import Settings

__all__ = [  # with the key helpers of core/keys.py, which callers import from here too
    "AUTH_CACHE_S",
    "DEFAULT_PROJECT",
    "KEY_PREFIX",
    "MAX_CONCURRENCY",
    "MAX_TIMEOUT_S",
    "Accounts",
    "NewKey",
    "api_key_of",
    "hash_key",
    "is_admin_key",
    "new_id",
]

DEFAULT_PROJECT = "default"
AUTH_CACHE_S = 5.0  # the auth_cache_s setting's default
MAX_CONCURRENCY = 1000
MAX_TIMEOUT_S = 21600  # the longest job a project may default to (a session's maximum)


def is_admin_key(expected: str | None, given: str | None) -> bool:
    """Whether ``given`` is the admin key (the ``admin_key`` setting; none set: nothing is)."""
    if not expected or not given:
        return False
    return same_secret(given, expected)


@dataclass(frozen=True)
class NewKey:
    project: ProjectRecord
    key: str


class Accounts:
    def __init__(
        self,
        store: Store,
        *,
        free_cents: int,
        concurrency: int,
        timeout_s: int,
        auth_cache_s: float = AUTH_CACHE_S,
    ) -> None:
        self.store = store
        self.free_cents = free_cents
        self.concurrency = concurrency
        self.timeout_s = timeout_s
        # key digest -> (monotonic expiry, project): a checked key is trusted for auth_cache_s
        # without a database look-up, so a key revoked by another process stops within that time
        self.auth_cache_s = auth_cache_s
        self._auth_cache: dict[str, tuple[float, ProjectRecord]] = {}

    @classmethod
    def from_settings(cls, store: Store, settings: Settings) -> Accounts:
        s = settings
        return cls(
            store,
            free_cents=s.new_project_free_cents,
            concurrency=s.default_concurrency,
            timeout_s=s.default_job_timeout_s,
            auth_cache_s=s.auth_cache_s,
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
        made = new_key()
        await self.store.add_api_key(made.key_id, project.id, made.digest, made.prefix)
        return NewKey(project=project, key=made.key)

    async def bootstrap(self) -> NewKey | None:
        """On a first start (no key at all) create project ``default`` and a key for it."""
        if await self.store.count_api_keys():
            return None
        return await self.create_key(DEFAULT_PROJECT)

    async def authenticate(self, key: str | None) -> ProjectRecord:
        if not key:
            raise MissingApiKey("Missing API key: send `Authorization: Bearer <key>`")
        return await self.authenticate_digest(hash_key(key))

    async def authenticate_digest(self, digest: str) -> ProjectRecord:
        """:meth:`authenticate` by the key's SHA-256 (what a console session remembers, never the
        key itself)."""
        cached = self.cached_project(digest)
        if cached is not None:
            return cached
        project = await self.store.project_for_key(digest)
        if project is None:
            raise Unauthenticated("The provided API key is invalid or has been revoked")
        if self.auth_cache_s > 0:
            self._forget_expired()
            self._auth_cache[digest] = (time.monotonic() + self.auth_cache_s, project)
        return project

    def cached_project(self, digest: str) -> ProjectRecord | None:
        """The project of a key checked less than ``auth_cache_s`` ago, else None (no I/O)."""
        cached = self._auth_cache.get(digest)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        return None

    def _forget_expired(self) -> None:
        if len(self._auth_cache) >= 1024:
            now = time.monotonic()
            self._auth_cache = {d: v for d, v in self._auth_cache.items() if v[0] > now}

    async def add_balance(self, project_name: str, cents: int, kind: str) -> dict[str, int]:
        if kind not in LEDGER_KINDS:
            raise InvalidRequest(f"kind must be one of {', '.join(LEDGER_KINDS)}")
        project = await self.project(project_name)
        await self.store.add_ledger_entry(project.id, kind, cents, f"{kind} credit")
        return await self.store.balance(project.id)

    async def keys(self, project: ProjectRecord) -> list[ApiKeyRecord]:
        return await self.store.api_keys(project.id)

    async def revoke_key(self, project: ProjectRecord, key_id: str) -> None:
        """Revoke one of the project's keys: it stops working at once in this process (and within
        the authentication cache's few seconds in others)."""
        digest = await self.store.revoke_api_key(project.id, key_id)
        if digest is None:
            raise NotFound(f"No live key {key_id!r} in this project")
        self._auth_cache.pop(digest, None)

    async def update_limits(
        self, project: ProjectRecord, *, concurrency: int, timeout_s: int
    ) -> ProjectRecord:
        """Change the project's concurrency limit and default job timeout (seconds)."""
        if not 1 <= concurrency <= MAX_CONCURRENCY:
            raise InvalidRequest(f"concurrency must be between 1 and {MAX_CONCURRENCY}")
        if not 1 <= timeout_s <= MAX_TIMEOUT_S:
            raise InvalidRequest(f"the default timeout must be between 1 and {MAX_TIMEOUT_S} seconds")
        await self.store.update_project_limits(project.id, concurrency=concurrency, timeout_s=timeout_s)
        self._auth_cache = {d: v for d, v in self._auth_cache.items() if v[1].id != project.id}
        updated = await self.store.project_by_id(project.id)
        if updated is None:
            raise NotFound("Project not found")
        return updated
