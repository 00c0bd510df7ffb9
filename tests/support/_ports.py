"""Small networking helpers shared by the throwaway servers."""

from __future__ import annotations

import random
import socket
import time
from pathlib import Path

_EPHEMERAL = Path("/proc/sys/net/ipv4/ip_local_port_range")
_SPAN = 10_000  # ports below the ephemeral range the picks come from


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on ``host`` right now, from below the ephemeral range: a server started
    on it seconds later must not find it taken by a connection or a listener bound to port 0
    meanwhile (the OS hands those out of the ephemeral range, e.g. the pool's egress channels)."""
    low = _ephemeral_low()
    for _ in range(200):
        port = random.randrange(max(1024, low - _SPAN), low - 1)  # low - 1: a contained DevTools port
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port below {low} on {host}")


def _ephemeral_low() -> int:
    try:
        return int(_EPHEMERAL.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


def wait_for_port(host: str, port: int, timeout: float) -> bool:
    """Wait until something accepts TCP connections on ``host:port``; False on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.02)
    return False
