"""The sandbox package (browserfleet/node/sandbox/): what a contained browser sees, when a node
may run browsers uncontained, sockets in a sandbox's network namespace, the contained pool, and the
node never following a link a browser left in its own folders."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from browserfleet.core.errors import Misconfigured
from browserfleet.fleet import containment_of
from browserfleet.node.egress import EgressPolicy, EgressProxy
from browserfleet.node.pool import BrowserPool
from browserfleet.node.sandbox import NetNamespace, decide
from browserfleet.node.sandbox.containment import probe
from browserfleet.node.sandbox.jail import Folders, bwrap_options, command
from browserfleet.node.sandbox.pool_jail import PREFIX, sweep_stale_jails
from browserfleet.node.sandbox.user import BrowserUser
from browserfleet.node.session.files import zip_files
from browserfleet.node.steps import read_no_follow
from browserfleet.settings import CHROMIUM_FLAGS, Settings
from tests.support.fleet import TEST_SITE_ALLOW, FleetHarness

BWRAP = Path("/usr/bin/bwrap")
USER = "browserfleet-browser"
NO_SUCH_USER = "browserfleet-no-such-user"


# --- the filesystem view ------------------------------------------------------------------------


def _mounts(args: list[str]) -> dict[str, str]:
    """destination → option, for the bind options in ``args``."""
    binds = {"--bind", "--ro-bind", "--ro-bind-try"}
    return {args[i + 2]: arg for i, arg in enumerate(args) if arg in binds}


def test_a_browser_sees_its_own_folders_at_their_paths_and_nothing_of_the_server(tmp_path: Path) -> None:
    data = tmp_path / "data"
    profile, downloads, uploads = tmp_path / "p", data / "files" / "dl", data / "files" / "up"
    args = bwrap_options(Folders(writable=(profile, downloads), readonly=(uploads,)))
    mounts = _mounts(args)
    assert mounts[str(profile)] == "--bind" and mounts[str(downloads)] == "--bind"
    assert mounts[str(uploads)] == "--ro-bind"
    assert mounts["/usr"] == "--ro-bind"
    assert not any(Path(dest).is_relative_to(Path.cwd()) for dest in mounts)  # no project source
    assert str(data) not in mounts and "/" not in mounts and "/etc" not in mounts
    system = [dest for dest, option in mounts.items() if option == "--ro-bind-try"]
    assert system and all(dest.startswith(("/etc/", "/var/cache/")) for dest in system)
    # the data folder exists inside only as an empty parent the browser may cross, never bound
    i = args.index(str(data))
    assert args[i - 3 : i] == ["--perms", "0755", "--dir"]
    # a fresh environment, and the namespaces
    assert "--clearenv" in args and not any(a.startswith("BROWSERFLEET_") for a in args)
    assert {"--unshare-net", "--unshare-pid", "--die-with-parent"} <= set(args)


def test_a_moved_folder_is_bound_read_only_at_its_inside_path_only(tmp_path: Path) -> None:
    """A session's uploads are at /uploads in its sandbox (the path its clients are told), not at
    their path in the server's data folder."""
    uploads = tmp_path / "data" / "files" / "up"
    args = bwrap_options(Folders(writable=(tmp_path / "p",), moved=((uploads, Path("/uploads")),)))
    mounts = _mounts(args)
    assert mounts["/uploads"] == "--ro-bind"
    assert args[args.index("/uploads") - 2 : args.index("/uploads")] == ["--ro-bind", str(uploads)]
    assert str(uploads) not in mounts


@pytest.fixture(scope="module")
def user() -> BrowserUser:
    found = BrowserUser.lookup(USER)
    if found is None or os.geteuid() != 0:
        pytest.skip("needs root and the browser user (make install)")
    return found


def test_inside_the_browser_is_its_user_and_sees_no_server_file(user: BrowserUser, tmp_path: Path) -> None:
    secret = tmp_path / "secret.key"
    secret.write_text("s3cret")
    argv = ["/bin/sh", "-c", f"id -u; cat {secret} || echo unreadable; ls /proc | grep -c '^[0-9]'"]
    done = subprocess.run(
        command(BWRAP, user, Folders(), argv), capture_output=True, text=True, timeout=30, check=True
    )
    uid, *rest = done.stdout.split()
    assert uid == str(user.uid)
    assert "s3cret" not in done.stdout and "unreadable" in rest
    assert int(rest[-1]) <= 4  # its own pid namespace: bwrap's init, sh, ls, grep


# --- when a node may run browsers uncontained --------------------------------------------------


def test_off_is_never_contained() -> None:
    found = decide("off", BWRAP, USER)
    assert not found.active and found.reason and "off" in found.reason
    assert found.chromium_flags(CHROMIUM_FLAGS) == list(CHROMIUM_FLAGS)
    assert found.report()["active"] is False


def test_required_refuses_a_host_that_cannot_and_auto_says_why(tmp_path: Path) -> None:
    with pytest.raises(Misconfigured, match=NO_SUCH_USER):
        decide("required", BWRAP, NO_SUCH_USER)
    with pytest.raises(Misconfigured, match="BROWSERFLEET_BROWSER_CONTAINMENT"):
        containment_of(Settings(data_dir=tmp_path, bwrap_path=tmp_path / "no-bwrap"))
    found = decide("auto", BWRAP, NO_SUCH_USER)
    assert not found.active and NO_SUCH_USER in (found.reason or "")
    assert found.report() == {"active": False, "setting": "auto", "reason": found.reason}


def test_a_node_that_is_not_root_cannot_contain(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    user, chromium_sandbox, reason = probe.__wrapped__(BWRAP, USER)
    assert user is None and not chromium_sandbox
    assert reason is not None and "not root" in reason


def test_contained_browsers_run_with_chromiums_sandbox(user: BrowserUser) -> None:
    found = decide("required", BWRAP, USER)
    assert found.active and found.user == user and found.chromium_sandbox
    flags = found.chromium_flags([*CHROMIUM_FLAGS, "--no-zygote", "--in-process-gpu"])
    assert "--no-sandbox" not in flags and "--no-zygote" not in flags and "--in-process-gpu" in flags
    assert "--no-unsandboxed-zygote" in flags  # what is left of --no-zygote's saving


def test_auto_on_a_host_that_cannot_serves_uncontained_and_says_so(harness: FleetHarness) -> None:
    server = harness.server(browser_containment="auto", browser_user=NO_SUCH_USER)
    try:
        report = httpx.get(f"{server.url}/health", timeout=10).json()["containment"]
        assert report["active"] is False and NO_SUCH_USER in report["reason"]
    finally:
        harness.stop_server(server)


# --- a sandbox's network namespace --------------------------------------------------------------


@pytest.fixture
def namespace(user: BrowserUser) -> Iterator[NetNamespace]:
    """The network namespace of a sandbox that only sleeps."""
    read, write = os.pipe()
    process = subprocess.Popen(
        command(BWRAP, user, Folders(), ["/bin/sleep", "60"], "--info-fd", str(write)),
        pass_fds=(write,),
    )
    os.close(write)
    with os.fdopen(read) as info:
        child = int(info.read().split('"child-pid":')[1].split(",")[0])
    netns = NetNamespace.of_process(child)
    # bubblewrap names the child before it has brought the namespace's loopback up: once the
    # child runs sleep, the set-up is done (a connect before that can find no route)
    deadline = time.monotonic() + 10
    while Path(f"/proc/{child}/comm").read_text().strip() != "sleep" and time.monotonic() < deadline:
        time.sleep(0.01)
    yield netns
    netns.close()
    process.kill()
    process.wait()


async def test_a_listener_in_a_sandbox_is_reachable_only_from_inside(namespace: NetNamespace) -> None:
    listener = namespace_listener = await namespace.listen(0)
    port = namespace_listener.getsockname()[1]
    accepted: list[bytes] = []

    async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(await reader.read(5))
        writer.close()

    server = await asyncio.start_server(on_client, sock=listener)
    try:
        with pytest.raises(ConnectionRefusedError):  # the host's 127.0.0.1 is another loopback
            await asyncio.open_connection("127.0.0.1", port)
        _, writer = await asyncio.open_connection(sock=await namespace.connect(port))
        writer.write(b"hello")
        await writer.drain()
        await asyncio.sleep(0.2)
        writer.close()
        assert accepted == [b"hello"]
        host = socket.create_server(("127.0.0.1", 0))  # and the host's ports are not reachable inside
        with host, pytest.raises(ConnectionRefusedError):
            await namespace.connect(host.getsockname()[1])
    finally:
        server.close()
        await server.wait_closed()


async def test_a_namespace_s_sockets_come_from_one_thread_of_its_own(namespace: NetNamespace) -> None:
    before = set(threading.enumerate())
    listeners = [await namespace.listen(0) for _ in range(5)]
    try:
        made = [t for t in set(threading.enumerate()) - before if t.name.startswith("netns-socket")]
        assert len(made) == 1 and made[0].is_alive()  # one for the namespace, not one per socket
        for listener in listeners:  # every one of them inside: not reachable from the host
            with pytest.raises(ConnectionRefusedError):
                await asyncio.open_connection("127.0.0.1", listener.getsockname()[1])
        # the event loop's own thread never entered the namespace
        own = socket.create_server(("127.0.0.1", 0))
        with own:
            _, writer = await asyncio.open_connection("127.0.0.1", own.getsockname()[1])
            writer.close()
    finally:
        for listener in listeners:
            listener.close()
    namespace.close()
    with pytest.raises(OSError, match="closed"):
        await namespace.new_socket()


# --- the contained pool -------------------------------------------------------------------------


@pytest.fixture
async def contained_pool(user: BrowserUser) -> AsyncIterator[BrowserPool]:
    pool = BrowserPool(
        Settings().headless_shell_path, CHROMIUM_FLAGS, size=1, containment=decide("required", BWRAP, USER)
    )
    await pool.start()
    yield pool
    await pool.close()


@pytest.mark.browser
async def test_a_pooled_browser_reaches_its_jobs_channel_only(
    contained_pool: BrowserPool, user: BrowserUser, site_url: str
) -> None:
    pooled = contained_pool.browsers[0]
    assert pooled.jail is not None
    jail_root = pooled.jail.root
    pid = pooled.pid()
    assert pid is not None and os.readlink(f"/proc/{pid}/exe").endswith("/chromium-headless-shell")
    assert os.stat(f"/proc/{pid}").st_uid == user.uid
    egress = EgressProxy(EgressPolicy.from_strings(False, TEST_SITE_ALLOW))
    try:
        channel = await egress.open_channel("job")
        async with contained_pool.context(egress=channel, proxy={"server": channel.server_url}) as context:
            page = await context.new_page()
            response = await page.goto(f"{site_url}/")
            assert response is not None and response.ok
        async with contained_pool.context() as context:  # no channel: no way out at all
            page = await context.new_page()
            with pytest.raises(Exception, match="ERR_"):
                await page.goto(f"{site_url}/", timeout=10_000)
    finally:
        await egress.close()
    await contained_pool.close()
    assert not jail_root.exists()


# --- links a browser may leave in its own folders -----------------------------------------------


def test_the_node_never_follows_a_link_a_browser_left(tmp_path: Path) -> None:
    secret = tmp_path / "secret.key"
    secret.write_bytes(b"s3cret")
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    (downloads / "report.pdf").symlink_to(secret)
    (downloads / "ok.txt").write_bytes(b"fine")
    zipped = zip_files([downloads / "report.pdf", downloads / "ok.txt"])
    assert b"s3cret" not in zipped and b"ok.txt" in zipped
    with pytest.raises(OSError):
        read_no_follow(downloads / "report.pdf")
    assert read_no_follow(downloads / "ok.txt") == b"fine"


def test_jail_folders_of_a_killed_node_are_swept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    dead = subprocess.Popen(["/bin/true"])
    dead.wait()  # reaped: its pid names no process
    stale, mine = tmp_path / f"{PREFIX}{dead.pid}-abc", tmp_path / f"{PREFIX}{os.getpid()}-def"
    stale.mkdir()
    mine.mkdir()
    assert sweep_stale_jails() == 1
    assert not stale.exists() and mine.exists()
