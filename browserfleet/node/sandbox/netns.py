"""A sandbox's network namespace, seen from the node: :class:`NetNamespace`.

A socket belongs to the network namespace its creating thread was in when it was created, for
good. So the node makes a socket for a sandbox on a short-lived thread that enters the sandbox's
namespace (``setns``, which needs root) just for the ``socket()`` call, then uses it from its event
loop like any other: a listener there serves the browser's egress channel in the node's process,
a connection from there reaches the browser's DevTools port. No process runs in the sandbox but
the browser, and no host port is opened for it.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import socket
import threading

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

    @classmethod
    def of_process(cls, pid: int) -> NetNamespace:
        return cls(os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC))

    @property
    def closed(self) -> bool:
        return self._fd < 0

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    async def new_socket(self) -> socket.socket:
        """A new non-blocking TCP/IPv4 socket in this namespace."""
        if self._fd < 0:
            raise OSError("the sandbox's network namespace is closed")
        # the thread gets a descriptor of its own: closing the handle meanwhile must not leave it
        # entering whatever the process opened next under the same number
        sock = await _on_thread(os.dup(self._fd))
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


def _socket_in(fd: int) -> socket.socket:
    """On the calling thread: enter the namespace, make the socket, go back home. Takes ``fd``
    over (closed when done)."""
    try:
        home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    except BaseException:
        os.close(fd)
        raise
    try:
        _setns(fd)
        try:
            return socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        finally:
            _setns(home)  # if this failed the thread ends anyway: it runs nothing else
    finally:
        os.close(home)
        os.close(fd)


async def _on_thread(fd: int) -> socket.socket:
    """:func:`_socket_in` on a thread of its own, never one of a shared pool (it takes ``fd``
    over)."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[socket.socket] = loop.create_future()

    def deliver(sock: socket.socket) -> None:
        if future.cancelled():
            sock.close()
        else:
            future.set_result(sock)

    def fail(error: BaseException) -> None:
        if not future.cancelled():
            future.set_exception(error)

    def work() -> None:
        try:
            sock = _socket_in(fd)
        except BaseException as exc:
            loop.call_soon_threadsafe(fail, exc)
            return
        try:
            loop.call_soon_threadsafe(deliver, sock)
        except RuntimeError:  # the loop is gone
            sock.close()

    threading.Thread(target=work, name="netns-socket", daemon=True).start()
    return await future
