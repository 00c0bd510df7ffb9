"""Distributed mode's engine on Redis: the dispatcher, the node registry, events and shared limits.

This package is the only place that imports ``redis`` (ruff's banned-api rule); the rest of
browserfleet sees the protocols of dispatch/base.py, core/admission.py and core/ratelimit.py.
Protocol names (keys, streams, channels, timeouts) live in dispatch/constants.py.
"""

from __future__ import annotations

from browserfleet.dispatch.redis.dispatcher import RedisDispatcher
from browserfleet.dispatch.redis.limits import RedisProjectLocks, RedisRateLimiter
from browserfleet.dispatch.redis.registry import RedisRegistry

__all__ = ["RedisDispatcher", "RedisProjectLocks", "RedisRateLimiter", "RedisRegistry"]
