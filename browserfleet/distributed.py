"""The two ways to run, chosen by settings: what the fleet plugs in for each.

| | embedded (no ``redis_url``) | distributed (``redis_url`` set) |
|---|---|---|
| dispatcher and registry | dispatch/local.py | dispatch/redis/ (streams, TTL keys, pub/sub) |
| blobs (``blob_backend=auto``) | files under ``data_dir`` | the database (store/db_blobs.py) |
| admission and quota locks | per process | Redis locks (every control process) |
| automation rate limit | per process | a Redis window (every control process) |
| jobs of gone nodes | recovered at start | recovered at start and by the reaper |

Roles of a process (the CLI picks them): ``all`` runs the APIs and a node, ``control`` the APIs
only, ``node`` a node only (plus its small internal app, node_app.py). The process that *owns the
jobs* (embedded ``serve``, or ``serve --role control|all``) recovers, purges, sends webhooks and,
when distributed, runs the reaper; a node process only requeues what it ran itself before a restart.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from browserfleet.core.admission import ProjectLocks
from browserfleet.core.ratelimit import RateLimiter, SlidingWindowLimiter
from browserfleet.core.reaper import Reaper
from browserfleet.core.recovery import recover
from browserfleet.dispatch.base import Dispatcher
from browserfleet.dispatch.local import LocalDispatcher
from browserfleet.settings import Settings
from browserfleet.store.blobs import BlobStore, FileBlobStore
from browserfleet.store.recent_blobs import RecentBlobs
from browserfleet.store.repo import Store

QUOTA_LOCKS = "quota"  # Redis lock namespace of the automations' monthly quota check


class Role(StrEnum):
    ALL = "all"  # APIs + a node (embedded mode is always this)
    CONTROL = "control"  # APIs, no browsers
    NODE = "node"  # a node, no public APIs


def build_dispatcher(s: Settings) -> Dispatcher:
    if not s.redis_url:
        return LocalDispatcher()
    from browserfleet.dispatch.redis import RedisDispatcher

    return RedisDispatcher(s.redis_url, prefix=s.redis_prefix, ttl_s=s.node_ttl_s)


def build_blob_store(s: Settings, store: Store) -> BlobStore:
    """The configured blob store, behind a short memory of what this process just wrote (a
    render's HTML is read back at once by its waiter: store/recent_blobs.py)."""
    backend = s.blob_backend
    if backend == "auto":
        backend = "database" if s.distributed else "files"
    if backend == "files":
        return RecentBlobs(FileBlobStore(s.blob_dir))
    from browserfleet.store.db_blobs import DatabaseBlobStore

    return RecentBlobs(DatabaseBlobStore(store))


def project_locks(dispatcher: Dispatcher, namespace: str | None = None) -> ProjectLocks | None:
    """The Redis dispatcher's shared locks; None (in-process locks) otherwise."""
    return dispatcher.project_locks(namespace)


def rate_limiter(dispatcher: Dispatcher, limit: int, window_s: float) -> RateLimiter:
    return dispatcher.rate_limiter(limit, window_s) or SlidingWindowLimiter(limit, window_s)


async def recover_owned(
    s: Settings, store: Store, dispatcher: Dispatcher, own_nodes: Iterable[str]
) -> Reaper | None:
    """Start-up recovery of the process that owns the jobs. Embedded: every interrupted job.
    Distributed: jobs whose node is gone (this process's own nodes count as gone: they are new),
    then the reaper keeps doing it while the process runs."""
    if not s.distributed:
        await recover(store, dispatcher, s.max_attempts)
        return None
    mine = set(own_nodes)
    live = {n.node_id for n in await dispatcher.registry.nodes()} - mine
    await recover(store, dispatcher, s.max_attempts, is_lost=lambda job: job.node_id not in live)
    reaper = Reaper(store, dispatcher, s.max_attempts, interval_s=max(0.5, s.node_ttl_s / 3))
    reaper.start()
    return reaper


async def recover_node(s: Settings, store: Store, dispatcher: Dispatcher, own_nodes: Iterable[str]) -> None:
    """A node process (re)starting: what its nodes ran before is lost with the old process."""
    mine = set(own_nodes)
    await recover(store, dispatcher, s.max_attempts, is_lost=lambda job: job.node_id in mine, resubmit=False)
