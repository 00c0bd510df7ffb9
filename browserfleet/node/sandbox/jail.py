"""What a contained browser sees: the ``bwrap`` command line that builds its namespaces and its
filesystem, then ``setpriv`` that drops it to the browser user.

``bwrap`` runs as root (the node), so it can bind folders that sit inside the server's private
data folder, and it creates no user namespace: inside, the browser is the real unprivileged
browser user, which lets Chromium create the user namespaces of its own sandbox. Namespaces:

* network - a fresh one holding only a loopback interface; the node puts the browser's egress
  channel and DevTools bridge into it (netns.py, bridge.py): nothing else is reachable;
* mount - a new root holding ``/usr`` (read-only), a few read-only files of ``/etc`` (fonts, the
  dynamic linker's cache, certificates, the Chromium launcher's configuration), a fresh ``/proc``,
  ``/dev`` and ``/tmp``, and the browser's own folders at their host paths (profile and downloads
  writable; an unpacked extension read-only) or at a fixed path (its uploads, read-only, at
  ``/uploads``). Their parent folders are empty;
* pid, ipc, uts, cgroup - the browser sees only its own processes;
* ``--die-with-parent``: the whole sandbox dies with the process that started it; the browser leads
  its own OS session (``setsid``: its helpers are found by it).

The environment is cleared: the browser never sees the server's variables (keys, URLs).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from browserfleet.node.sandbox.user import BrowserUser

__all__ = [
    "SETPRIV",
    "Folders",
    "ancestors",
    "bwrap_options",
    "command",
    "drop_privileges",
    "enter_command",
    "sandbox_env",
]

SETPRIV = "/usr/bin/setpriv"  # util-linux (Essential in Debian)
SETSID = "/usr/bin/setsid"  # util-linux
NSENTER = "/usr/bin/nsenter"  # util-linux: a helper into a running sandbox (enter_command)
ENTERED_NAMESPACES = ("--mount", "--net", "--pid", "--ipc", "--uts")
NAMESPACES = (
    "--unshare-net",
    "--unshare-pid",
    "--unshare-ipc",
    "--unshare-uts",
    "--unshare-cgroup-try",
    "--die-with-parent",
    "--new-session",
)
MERGED_USR = ("bin", "lib", "lib64", "sbin")  # Debian 12: symlinks into /usr
ETC_READONLY = (
    "alternatives",
    "ca-certificates",
    "chromium",
    "chromium.d",
    "fonts",
    "group",
    "hosts",
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "localtime",
    "mime.types",
    "nsswitch.conf",
    "passwd",
    "ssl",
)
OTHER_READONLY = ("/var/cache/fontconfig",)
# bwrap keeps these for setpriv only; setpriv drops every capability before Chromium starts
SETUID_CAPS = ("CAP_SETUID", "CAP_SETGID", "CAP_SETPCAP")
FOLDER_MODE = "0755"


@dataclass(frozen=True)
class Folders:
    """The host folders a browser may use, bound at the same paths inside its sandbox; ``moved``:
    ``(host folder, path inside)`` bound read-only at another path (a session's uploads at
    ``/uploads``, the path its clients are told: it names nothing of the server's folders)."""

    writable: tuple[Path, ...] = ()
    readonly: tuple[Path, ...] = ()
    moved: tuple[tuple[Path, Path], ...] = ()


def sandbox_env() -> dict[str, str]:
    """The browser's whole environment."""
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "LANG": os.environ.get("LANG", "C.UTF-8")}
    if tz := os.environ.get("TZ"):
        env["TZ"] = tz
    return env


def ancestors(paths: Iterable[Path]) -> list[Path]:
    """Every parent folder of ``paths`` (not ``/``), shallowest first, each once."""
    found: set[Path] = set()
    for path in paths:
        found.update(p for p in path.parents if p != Path("/"))
    return sorted(found, key=lambda p: (len(p.parts), str(p)))


def bwrap_options(folders: Folders, *, parents: Iterable[Path] = ()) -> list[str]:
    """``bwrap`` options (without the command): namespaces, environment, filesystem, folders.
    ``parents``: more folders to create (empty) for mounts the caller adds after these."""
    args = [*NAMESPACES, "--clearenv"]
    for name, value in sandbox_env().items():
        args += ["--setenv", name, value]
    args += ["--ro-bind", "/usr", "/usr", *_merged_usr()]
    args += ["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--tmpfs", "/tmp"]
    system = [Path("/etc") / name for name in ETC_READONLY] + [Path(p) for p in OTHER_READONLY]
    inside = [path for _, path in folders.moved]
    mounts = [*system, *folders.writable, *folders.readonly, *inside, *(p / "_" for p in parents)]
    for parent in ancestors(mounts):  # bwrap would make missing ones 0700: closed to the browser
        if parent != Path("/tmp"):
            args += ["--perms", FOLDER_MODE, "--dir", str(parent)]
    for path in system:
        args += ["--ro-bind-try", str(path), str(path)]
    for folder in folders.writable:
        args += ["--bind", str(folder), str(folder)]
    for folder in folders.readonly:
        args += ["--ro-bind", str(folder), str(folder)]
    for folder, path in folders.moved:
        args += ["--ro-bind", str(folder), str(path)]
    for cap in SETUID_CAPS:
        args += ["--cap-add", cap]
    return args


def drop_privileges(user: BrowserUser, *, own_session: bool = True) -> list[str]:
    """``setpriv`` as the start of the sandboxed command: the browser user, no groups, no
    capabilities left in any set (bwrap also set no_new_privs); then ``setsid`` (the browser
    leads its own OS session; bwrap's ``--new-session`` gives one to bwrap's init only). A helper
    started into a running sandbox (``own_session=False``) stays in its starter's process group
    and dies with it."""
    drop = [
        SETPRIV,
        f"--reuid={user.uid}",
        f"--regid={user.gid}",
        "--clear-groups",
        "--inh-caps=-all",
        "--bounding-set=-all",
    ]
    return [*drop, "--", SETSID] if own_session else [*drop, "--pdeathsig=KILL", "--"]


def _merged_usr() -> list[str]:
    args: list[str] = []
    for name in MERGED_USR:
        host = Path("/") / name
        if host.is_symlink():
            args += ["--symlink", os.readlink(host), str(host)]
        elif host.is_dir():
            args += ["--ro-bind", str(host), str(host)]
    return args


def enter_command(child: int, user: BrowserUser, argv: Sequence[str]) -> list[str]:
    """``argv`` as the browser user inside the running sandbox whose first process is ``child``:
    its filesystem, network and processes (``nsenter`` forks into the pid namespace)."""
    target = [NSENTER, f"--target={child}", *ENTERED_NAMESPACES, "--root", "--wd"]
    return [*target, "--", *drop_privileges(user, own_session=False), *argv]


def command(bwrap: Path, user: BrowserUser, folders: Folders, argv: Sequence[str], *extra: str) -> list[str]:
    """The whole command line: ``bwrap`` with ``extra`` options, then ``argv`` as the browser user."""
    return [str(bwrap), *bwrap_options(folders), *extra, "--", *drop_privileges(user), *argv]
