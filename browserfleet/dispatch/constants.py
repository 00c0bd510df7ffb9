"""Protocol names of distributed mode, in one place: Redis keys, streams, groups, channels, event
names and default timeouts. Every process of a fleet (control planes and nodes) must agree on
them, so change them only together with a note in CHANGELOG.md.

Keys (``P`` is the prefix, setting ``redis_prefix``, default ``bf``)::

    P:jobs:<kind>:<scope>   stream of tickets; scope = any | country:<CC> | region:<R> | node:<ID>
                            consumer group NODES_GROUP; consumers are node instances
    P:tickets               hash job id → "<stream> <entry id>" of tickets not yet claimed
    P:streams               set of every ticket stream (the reaper scans them)
    P:seq                   counter: the submit order of tickets over every stream (oldest first)
    P:node:<id>             JSON of a live node (NodeInfo), expires after node_ttl_s
    P:nodes                 set of node ids ever seen (entries without a live key are pruned)
    P:admit:<project>       admission lock of a project (token, expires)
    P:rate:<key>            sorted set of request times of an API key (rate limit window)
    P:events                pub/sub channel of job events (JSON)
    P:wake                  pub/sub channel: a ticket was queued on the stream named in the message
"""

from __future__ import annotations

from typing import Final

DEFAULT_PREFIX: Final = "bf"

# --- keys (joined with ":" after the prefix) ------------------------------------------------------
JOBS: Final = "jobs"
TICKETS: Final = "tickets"
STREAMS: Final = "streams"
SEQ: Final = "seq"
NODE: Final = "node"
NODES: Final = "nodes"
ADMIT: Final = "admit"
RATE: Final = "rate"
EVENTS_CHANNEL: Final = "events"
WAKE_CHANNEL: Final = "wake"

# --- stream fields and groups ---------------------------------------------------------------------
NODES_GROUP: Final = "nodes"  # the one consumer group of every ticket stream
REAPER_CONSUMER: Final = "reaper"  # takes over tickets whose node stopped renewing them
TICKET_FIELD: Final = "t"  # the stream entry's one field: the ticket as JSON

# --- route scopes -----------------------------------------------------------------------------------
SCOPE_ANY: Final = "any"

# --- timeouts -----------------------------------------------------------------------------------------
DEFAULT_NODE_TTL_S: Final = 15.0  # a node whose heartbeat is older is gone; also the visibility timeout
POLL_S: Final = 1.0  # a waiting claim re-checks the queues this often even without a wake-up
RECONNECT_S: Final = 0.5  # first delay before reconnecting to Redis (doubles up to 5 s)
ADMIT_LOCK_TTL_MS: Final = 10_000  # an admission lock left by a dead process frees itself
ADMIT_WAIT_S: Final = 10.0  # longest wait for a project's admission lock (then 503)
POOL_SIZE: Final = 64  # Redis connections per process (one more is held by pub/sub)
POOL_WAIT_S: Final = 10.0  # a caller waits this long for a free connection
NODE_SECRET_HEADER: Final = "x-browserfleet-node-secret"  # control plane → node requests


def join(prefix: str, *parts: str) -> str:
    return ":".join((prefix, *parts))
