"""Starting a session's browser, contained or not: :class:`ContainedLauncher`, :class:`DirectLauncher`.

Both add the browser's network flags to its command line - its DevTools server on
``127.0.0.1`` (a free port, written to ``DevToolsActivePort``) and the job's egress channel as its
only proxy (``<-loopback>``: loopback goes through it too) - and start it as the leader of its own
OS session. :meth:`StartedBrowser.host_port` turns a port the browser (or a helper next to it)
listens on into the one the node's clients use on the host: the same when uncontained, a
:class:`PortBridge`'s when contained. :meth:`StartedBrowser.start_helper` starts a program next to
the browser - chromedriver - inside its sandbox when contained, so whatever a WebDriver client
makes chromedriver do (even launch another browser) stays in there too.

A contained start (root only, see containment.py):

1. the folders are handed to the browser user;
2. ``bwrap`` is started with ``--info-fd`` (it reports its child's pid) and ``--block-fd`` (it
   waits before running the browser);
3. the node opens the sandbox's network namespace and makes the egress channel listen there on the
   channel's own port (the browser's ``--proxy-server`` is the same URL on both sides);
4. the node lets bwrap go on: Chromium starts, with nothing on its loopback but its own DevTools
   server and its channel, and no route anywhere else.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from browserfleet.node.egress import EgressChannel
from browserfleet.node.sandbox.bridge import PortBridge
from browserfleet.node.sandbox.containment import Containment
from browserfleet.node.sandbox.jail import Folders, command, enter_command, sandbox_env
from browserfleet.node.sandbox.netns import NetNamespace
from browserfleet.node.sandbox.user import BrowserUser, hand_over

__all__ = [
    "BrowserLauncher",
    "ContainedLauncher",
    "DirectLauncher",
    "Helper",
    "StartedBrowser",
    "launcher_for",
    "start_helper",
]

INFO_TIMEOUT_S = 10.0
INFO_MAX_BYTES = 64 * 1024


def network_flags(devtools_port: int, proxy_url: str) -> list[str]:
    return [
        f"--remote-debugging-port={devtools_port}",
        "--remote-debugging-address=127.0.0.1",
        f"--proxy-server={proxy_url}",
        "--proxy-bypass-list=<-loopback>",
    ]


class Helper:
    """A program started next to a browser: ``process`` is what to read, wait for and stop (its
    process group); :meth:`pid` is the program's own process (``forked``: a child of ``process``)."""

    def __init__(self, process: asyncio.subprocess.Process, *, forked: bool = False) -> None:
        self.process = process
        self.forked = forked

    def pid(self) -> int | None:
        if self.process.returncode is not None:
            return None
        return _first_child(self.process.pid) if self.forked else self.process.pid


class StartedBrowser:
    """A started browser: ``process`` is what to wait for and to stop (its process group);
    :meth:`pid` is the browser's own process once it runs."""

    contained = False  # True: the browser sees its Folders (moved ones at their inside paths)

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    def pid(self) -> int:
        return self.process.pid

    async def host_port(self, port: int) -> int:
        """Where the node reaches what listens on the browser's ``127.0.0.1:port``."""
        return port

    async def start_helper(self, argv: Sequence[str]) -> Helper:
        """``argv`` next to the browser, its output (stdout and stderr) piped."""
        return await start_helper(argv)

    async def close(self) -> None:
        """Release what the start set up (after the process was stopped)."""


class BrowserLauncher(Protocol):
    async def start(self, argv: Sequence[str], folders: Folders, egress: EgressChannel) -> StartedBrowser: ...


class DirectLauncher:
    """Uncontained: the browser is a plain child process of the node (``browser_containment`` off,
    or ``auto`` on a host that cannot contain)."""

    def __init__(self, containment: Containment | None = None) -> None:
        self.containment = containment

    async def start(self, argv: Sequence[str], folders: Folders, egress: EgressChannel) -> StartedBrowser:
        flags = network_flags(0, egress.server_url)
        process = await asyncio.create_subprocess_exec(
            argv[0],
            *flags,
            *argv[1:],
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            start_new_session=True,
        )
        return StartedBrowser(process)


class ContainedBrowser(StartedBrowser):
    contained = True

    def __init__(
        self, process: asyncio.subprocess.Process, child: int, netns: NetNamespace, user: BrowserUser
    ) -> None:
        super().__init__(process)
        self.child = child  # bwrap's first process in the sandbox (the browser's parent)
        self.netns = netns
        self.user = user
        self.bridges: dict[int, PortBridge] = {}  # port in the sandbox → its bridge

    def pid(self) -> int:
        """The browser's pid (on the host), once bwrap started it; bwrap's own before."""
        return _first_child(self.child) or self.process.pid

    async def host_port(self, port: int) -> int:
        """A host port bridged to ``port`` in the sandbox (bridge.py)."""
        bridge = self.bridges.get(port)
        if bridge is None:
            bridge = self.bridges[port] = PortBridge(self.netns, port)
            await bridge.start()
        return bridge.port

    async def start_helper(self, argv: Sequence[str]) -> Helper:
        """``argv`` inside the browser's sandbox, as the browser user."""
        command = enter_command(self.child, self.user, argv)
        return Helper(await _spawn_helper(command, sandbox_env()), forked=True)

    async def close(self) -> None:
        for bridge in self.bridges.values():
            await bridge.close()
        self.netns.close()


class ContainedLauncher:
    """Every browser in a sandbox of its own (jail.py), as ``containment.user``."""

    def __init__(self, containment: Containment) -> None:
        assert containment.active and containment.user is not None
        self.containment = containment
        self.user: BrowserUser = containment.user

    async def start(self, argv: Sequence[str], folders: Folders, egress: EgressChannel) -> StartedBrowser:
        await asyncio.to_thread(self._hand_over, folders)
        browser_argv = [argv[0], *network_flags(0, egress.server_url), *argv[1:]]
        info_read, info_write = os.pipe()
        block_read, block_write = os.pipe()
        try:
            process = await asyncio.create_subprocess_exec(
                *command(
                    self.containment.bwrap,
                    self.user,
                    folders,
                    self.containment.chromium_flags(browser_argv),
                    *("--info-fd", str(info_write), "--block-fd", str(block_read)),
                ),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
                start_new_session=True,
                pass_fds=(info_write, block_read),
            )
        except BaseException:
            for fd in (info_read, info_write, block_read, block_write):
                os.close(fd)
            raise
        os.close(info_write)
        os.close(block_read)
        return await self._release(process, info_read, block_write, egress)

    def _hand_over(self, folders: Folders) -> None:
        for folder in (*folders.writable, *folders.readonly, *(host for host, _ in folders.moved)):
            hand_over(folder, self.user)

    async def _release(
        self, process: asyncio.subprocess.Process, info_read: int, block_write: int, egress: EgressChannel
    ) -> StartedBrowser:
        """Once bwrap made the sandbox: serve the egress channel inside it, then let the browser
        start (it never sees a moment without its proxy)."""
        netns: NetNamespace | None = None
        try:
            child = await asyncio.wait_for(_read_child_pid(info_read), INFO_TIMEOUT_S)
            netns = NetNamespace.of_process(child)
            await egress.serve_socket(await netns.listen(egress.port))
            os.write(block_write, b"1")  # bwrap runs the browser now
        except BaseException:
            if netns is not None:
                netns.close()
            await _stop(process)
            raise
        finally:
            os.close(block_write)
        return ContainedBrowser(process, child, netns, self.user)


def launcher_for(containment: Containment) -> BrowserLauncher:
    return ContainedLauncher(containment) if containment.active else DirectLauncher(containment)


async def _read_child_pid(fd: int) -> int:
    """bwrap's ``--info-fd`` JSON (written once its sandbox exists, then closed): ``child-pid``.
    Takes ``fd`` over (closed when done, by this function only).

    Read with a plain reader callback on the raw descriptor, not a pipe transport: uvloop's pipe
    transport closes the descriptor itself and then closes the file object wrapping it again, so
    under load the second close hit whatever the process had opened under that number meanwhile
    (sockets, database files)."""
    loop = asyncio.get_running_loop()
    os.set_blocking(fd, False)
    data = bytearray()
    ended: asyncio.Future[None] = loop.create_future()

    def readable() -> None:
        try:
            chunk = os.read(fd, INFO_MAX_BYTES)
        except BlockingIOError:
            return
        except OSError as exc:
            if not ended.done():
                ended.set_exception(exc)
            return
        if chunk and len(data) < INFO_MAX_BYTES:
            data.extend(chunk)
        elif not ended.done():
            ended.set_result(None)

    loop.add_reader(fd, readable)
    try:
        await ended
    finally:
        loop.remove_reader(fd)
        os.close(fd)
    if not data:
        raise RuntimeError("bubblewrap exited before its sandbox was set up")
    return int(json.loads(bytes(data))["child-pid"])


def _first_child(pid: int) -> int | None:
    with contextlib.suppress(OSError, ValueError):
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        if children:
            return int(children[0])
    return None


async def start_helper(argv: Sequence[str]) -> Helper:
    """``argv`` as a plain child process of the node (uncontained), its output piped."""
    return Helper(await _spawn_helper(argv))


async def _spawn_helper(argv: Sequence[str], env: dict[str, str] | None = None) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
        env=env,
    )


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
