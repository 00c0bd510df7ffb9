"""The Sessions family's core (browserbase-compatible), one module per concept.

``service`` (live sessions as jobs of kind ``session``: request, spec, status, the service),
``egress`` (a session's proxies and its egress rules, checked at create time), ``secrets`` (its
signing key and proxy credentials, sealed with the vault), ``contexts`` (saved browser profiles)
with ``profile_archive``, ``extensions`` with ``extension_archive``, ``fetch`` (``POST /v1/fetch``:
jobs of kind ``fetch``) with ``markdown``, and ``search/`` (``POST /v1/search`` backends). What
runs next to a session's browser lives on its node: browserfleet/node/session/.
"""

from browserfleet.core.sessions.contexts import Contexts
from browserfleet.core.sessions.extensions import Extensions
from browserfleet.core.sessions.fetch import FetchError, Fetches, FetchPolicy
from browserfleet.core.sessions.secrets import SessionSecrets
from browserfleet.core.sessions.service import (
    DEFAULT_MIN_TIMEOUT_S,
    DEFAULT_REGION,
    MAX_TIMEOUT_S,
    READY_EVENT,
    RELEASE_EVENT,
    SESSION_REGIONS,
    SessionOptions,
    SessionPolicy,
    SessionRequest,
    Sessions,
    SessionSpec,
    SessionStatus,
    SessionView,
    session_status,
)

__all__ = [
    "DEFAULT_MIN_TIMEOUT_S",
    "DEFAULT_REGION",
    "MAX_TIMEOUT_S",
    "READY_EVENT",
    "RELEASE_EVENT",
    "SESSION_REGIONS",
    "Contexts",
    "Extensions",
    "FetchError",
    "FetchPolicy",
    "Fetches",
    "SessionOptions",
    "SessionPolicy",
    "SessionRequest",
    "SessionSecrets",
    "SessionSpec",
    "SessionStatus",
    "SessionView",
    "Sessions",
    "session_status",
]
