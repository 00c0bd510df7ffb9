"""A sandbox's network namespace, seen from the node: :class:`NetNamespace`.

A socket belongs to the network namespace its creating thread was in when it was created, for
good. So the node makes a sandbox's sockets on a thread of that namespace's own, which entered it
once (``setns``, which needs root) and does nothing but ``socket()`` calls, then uses them from its
event loop like any other: a listener there serves the browser's egress channel in the node's process,
a connection from there reaches the browser's DevTools port. No process runs in the sandbox but
the browser, and no host port is opened for it.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import socket
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures.thread import BrokenThreadPool

__all__ = ["LOOPBACK", "NetNamespace"]

LOOPBACK = "127.0.0.1"
CLONE_NEWNET = 0x40000000
LISTEN_BACKLOG = 128
_libc = ctypes.CDLL(None, use_errno=True)


class NetNamespace:
    """An open handle on a network namespace (it lives at least as long as the handle)."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self.ident = os.fstat(fd).st_ino  # the namespace's identity (its nsfs inode)
        self._maker: ThreadPoolExecutor | None = None  # its socket thread, made on first use

    @classmethod
    def of_process(cls, pid: int) -> NetNamespace:
        return cls(os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC))

    @property
    def closed(self) -> bool:
        return self._fd < 0

    def close(self) -> None:
        if self._maker is not None:
            self._maker.shutdown(wait=False, cancel_futures=True)
            self._maker = None
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    async def new_socket(self) -> socket.socket:
        """A new non-blocking TCP/IPv4 socket in this namespace."""
        if self._fd < 0:
            raise OSError("the sandbox's network namespace is closed")
        if self._maker is None:
            # the thread gets a descriptor of its own: closing the handle meanwhile must not leave
            # it entering whatever the process opened next under the same number
            self._maker = ThreadPoolExecutor(
                max_workers=1,
                thread_name_prefix="netns-socket",
                initializer=_enter,
                initargs=(os.dup(self._fd),),
            )
        sock = await _on_thread(self._maker)
        sock.setblocking(False)
        return sock

    async def listen(self, port: int) -> socket.socket:
        """A listening socket on this namespace's ``127.0.0.1:port``."""
        sock = await self.new_socket()
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((LOOPBACK, port))
            sock.listen(LISTEN_BACKLOG)
        except OSError:
            sock.close()
            raise
        return sock

    async def connect(self, port: int) -> socket.socket:
        """A socket connected to this namespace's ``127.0.0.1:port``."""
        sock = await self.new_socket()
        try:
            await asyncio.get_running_loop().sock_connect(sock, (LOOPBACK, port))
        except BaseException:
            sock.close()
            raise
        return sock


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"setns: {os.strerror(errno)}")


def _enter(fd: int) -> None:
    """A socket thread's start: into the namespace for good (it runs nothing else). Takes ``fd``
    over."""
    try:
        _setns(fd)
    finally:
        os.close(fd)


async def _on_thread(maker: ThreadPoolExecutor) -> socket.socket:
    """A new TCP/IPv4 socket, made on ``maker``'s thread (closed if nobody waits for it any more)."""
    try:
        made = maker.submit(socket.socket, socket.AF_INET, socket.SOCK_STREAM)
    except RuntimeError as exc:  # shut down: the namespace was closed meanwhile
        raise OSError(f"the sandbox's network namespace is closed: {exc}") from exc
    try:
        return await asyncio.wrap_future(made)
    except BrokenThreadPool as exc:  # the thread could not enter the namespace
        raise OSError(f"no socket in the sandbox's network namespace: {exc}") from exc
    except asyncio.CancelledError:
        made.add_done_callback(_close_unwanted)
        raise


def _close_unwanted(made: Future[socket.socket]) -> None:
    if not made.cancelled() and made.exception() is None:
        made.result().close()
