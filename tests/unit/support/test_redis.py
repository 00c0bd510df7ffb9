"""The throwaway Redis server of tests.support starts, answers PING and stops."""

from __future__ import annotations

import socket

from tests.support.redis import RedisServer


def test_redis_server_ping() -> None:
    with RedisServer() as server:
        assert server.url.startswith("redis://127.0.0.1:")
        assert server.port is not None
        with socket.create_connection((server.host, server.port), timeout=5) as sock:
            sock.sendall(b"PING\r\n")
            assert sock.recv(64) == b"+PONG\r\n"
    assert server.port is None
