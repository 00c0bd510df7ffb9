"""The base URL of every URL handed to clients: ``connectUrl``, ``seleniumRemoteUrl``, the live
URLs, context ``uploadUrl``, signed file URLs, feed links.

Those URLs often carry a credential (a signing key, an upload token, a signature), so their host
never comes from the request's own ``Host`` header, which the client — or anyone on the way —
chooses. In order:

1. ``public_url`` when set (with any path prefix);
2. else the ``Host`` header only when it is allow-listed (``allowed_hosts``: ``host`` matches it
   on any port, ``host:port`` exactly), or when the request was relayed by a control plane (the
   node app's gate, node_app.py, marks it: the control plane chose the host by these same rules);
3. else the address the request arrived on (the server socket's own address and port — what
   the client did connect to), or ``host:port`` from the settings if the server does not say.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import HTTPConnection
from starlette.types import Scope

from browserfleet.settings import Settings

RELAYED = "browserfleet.relayed"  # scope key: the request came from a control plane (node app)


def client_base(connection: HTTPConnection) -> str:
    """``scheme://host[:port][/prefix]`` (no trailing slash) for URLs in this request's answer."""
    settings: Settings = connection.app.state.fleet.settings
    return base_url(connection.scope, settings)


def base_url(scope: Scope, settings: Settings) -> str:
    if settings.public_url:
        return settings.public_url.rstrip("/")
    scheme = "https" if scope.get("scheme") in ("https", "wss") else "http"
    host = _header(scope, b"host")
    if host and (scope.get(RELAYED) or host_allowed(host, settings.allowed_hosts)):
        return f"{scheme}://{host}"
    server = scope.get("server")
    if server and server[0] and server[1]:
        address, port = str(server[0]), int(server[1])
        return f"{scheme}://{f'[{address}]' if ':' in address else address}:{port}"
    return f"{scheme}://{settings.host}:{settings.port}"


def host_allowed(host: str, allowed: list[str]) -> bool:
    """Whether a ``Host`` header value is allow-listed (``host`` any port, ``host:port`` exactly)."""
    if not allowed:
        return False
    try:
        parts = urlsplit(f"//{host.strip().lower()}")
        name, port = parts.hostname, parts.port
    except ValueError:
        return False
    if not name or parts.path or "@" in host:
        return False
    shown = f"[{name}]" if ":" in name else name
    for entry in (a.strip().lower() for a in allowed):
        if entry in (name, shown) or (port is not None and entry == f"{shown}:{port}"):
            return True
    return False


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return str(value.decode("latin-1")).strip() or None
    return None
