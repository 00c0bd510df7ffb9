"""HTTP/1.1 proxy-protocol pieces: request targets, header filtering, the proxy's own responses."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from h11._headers import Headers

__all__ = [
    "EGRESS_HEADER",
    "MAX_HEADER_BYTES",
    "Refusal",
    "declares_body",
    "end_to_end_headers",
    "is_websocket_upgrade",
    "parse_absolute_target",
    "parse_authority",
]

MAX_HEADER_BYTES: Final = 256 * 1024
"""Largest request/response head (request line + headers) accepted from either side."""
EGRESS_HEADER: Final = "X-Browserfleet-Egress"


def _valid_port(port: int | None) -> bool:
    return port is not None and 0 < port < 65536


def parse_absolute_target(target: bytes) -> tuple[str, int, bytes, bytes] | None:
    """``http://host:port/p?q`` -> (host, port, authority for Host:, origin-form target)."""
    try:
        text = target.decode("ascii")
        parts = urlsplit(text)
        port = 80 if parts.port is None else parts.port
    except (UnicodeDecodeError, ValueError):
        return None
    if parts.scheme.lower() not in ("http", "ws") or not parts.hostname or not _valid_port(port):
        return None
    prefix = f"{parts.scheme}://{parts.netloc}"
    if text[: len(prefix)].lower() != prefix.lower():
        return None
    # the path and query exactly as sent (h11 already refused whitespace and control characters)
    path = text[len(prefix) :].partition("#")[0]
    if not path.startswith("/"):
        path = f"/{path}"
    authority = parts.netloc.rpartition("@")[2]
    return parts.hostname, port, authority.encode("ascii"), path.encode("ascii")


def parse_authority(target: bytes) -> tuple[str, int] | None:
    """``host:port`` / ``[v6]:port`` of a CONNECT request -> (host, port)."""
    try:
        text = target.decode("ascii")
        parts = urlsplit(f"//{text}")
        port = parts.port
    except (UnicodeDecodeError, ValueError):
        return None
    if parts.path or parts.query or parts.fragment or "@" in text or not parts.hostname:
        return None
    if port is None or not _valid_port(port):
        return None
    return parts.hostname, port


# Never forwarded: hop-by-hop headers (RFC 9110 7.6.1) plus the proxy's own ones.
_HOP_BY_HOP: Final = frozenset(
    {
        b"connection",
        b"proxy-connection",
        b"keep-alive",
        b"proxy-authorization",
        b"proxy-authenticate",
        b"te",
        b"trailer",
        b"upgrade",
    }
)
# Never dropped because the Connection header lists them: framing and routing must stay intact.
_PROTECTED: Final = frozenset({b"host", b"content-length", b"transfer-encoding"})


def _connection_tokens(headers: Headers) -> set[bytes]:
    return {
        token.strip().lower()
        for name, value in headers
        if name == b"connection"
        for token in value.split(b",")
        if token.strip()
    }


def is_websocket_upgrade(headers: Headers) -> bool:
    if b"upgrade" not in _connection_tokens(headers):
        return False
    return any(name == b"upgrade" and b"websocket" in value.lower() for name, value in headers)


def declares_body(headers: Headers) -> bool:
    for name, value in headers:
        if name == b"transfer-encoding" or (name == b"content-length" and value.strip() != b"0"):
            return True
    return False


def end_to_end_headers(
    headers: Headers, *, upgrade: bool = False, drop: frozenset[bytes] = frozenset()
) -> list[tuple[bytes, bytes]]:
    """The headers to forward: hop-by-hop and Connection-listed ones removed (original casing).

    With ``upgrade`` the ``Upgrade`` header is kept and ``Connection: Upgrade`` re-added.
    """
    removed = (_HOP_BY_HOP | (_connection_tokens(headers) - _PROTECTED) | drop) - (
        {b"upgrade"} if upgrade else set()
    )
    kept = [(raw, value) for raw, value in headers.raw_items() if raw.lower() not in removed]
    if upgrade:
        kept.append((b"Connection", b"Upgrade"))
    return kept


class Refusal:
    """A response the proxy answers itself instead of reaching the destination."""

    __slots__ = ("kind", "message", "status")

    def __init__(self, status: int, kind: str, message: str) -> None:
        self.status = status
        self.kind = kind
        self.message = message
