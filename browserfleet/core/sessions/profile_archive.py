"""The saved form of a browser profile, and safe reading of uploaded ones.

Canonical form (what is encrypted and stored): a gzip'd tar of a Chromium user-data-dir — regular
files and directories only, relative paths, caches and run-time files left out (``SKIPPED_DIRS``,
``skipped``) — plus ``.browserfleet-cookies.json`` at its root: the browser's cookies read over
CDP (``Storage.getCookies``), because session cookies never reach the profile's cookie DB.

Uploads (zip, tar or tar.gz, told apart by magic bytes) are validated entry by entry — no absolute
paths, no ``..``, no links or devices, the sum of file sizes within ``max_bytes`` — and rewritten
into the canonical form, so nothing from an upload is ever extracted as given.
"""

from __future__ import annotations

import gzip
import io
import json
import stat
import tarfile
import time
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

from browserfleet.core.errors import InvalidRequest, PayloadTooLarge

COOKIES_NAME = ".browserfleet-cookies.json"
SKIPPED_DIRS = frozenset(
    {
        "Cache",
        "Code Cache",
        "GPUCache",
        "ShaderCache",
        "GrShaderCache",
        "DawnCache",
        "DawnWebGPUCache",
        "DawnGraphiteCache",
        "GraphiteDawnCache",
        "Crashpad",
        # hosts an extension may start as processes: never taken from an uploaded or saved profile
        "NativeMessagingHosts",
    }
)
SKIPPED_FILES = frozenset({"DevToolsActivePort", "LOCK", "lockfile", "RunningChromeVersion"})
PROFILE_MARKERS = ("Default", "Local State")
GZIP_LEVEL = 1  # profiles are mostly SQLite/LevelDB: level 1 is several times faster, nearly as small

Entry = tuple[str, bytes | None]  # relative POSIX path, file content (None: a directory)


class ArchiveError(Exception):
    """A stored profile archive cannot be read (corrupt or not ours)."""


def skipped(parts: tuple[str, ...]) -> bool:
    """Caches, crash dumps, locks and the singleton/run-time files of a live browser."""
    if any(part in SKIPPED_DIRS for part in parts[:-1]) or parts[-1] in SKIPPED_DIRS:
        return True
    name = parts[-1]
    return name in SKIPPED_FILES or name.startswith("Singleton")


def pack_dir(root: Path, cookies: list[dict[str, Any]]) -> bytes:
    """The canonical archive of ``root`` (an exited browser's user-data-dir) and ``cookies``."""
    return _write(_walk(root), cookies)


def unpack(data: bytes, root: Path, max_bytes: int) -> list[dict[str, Any]]:
    """Extract a canonical archive into ``root``; returns its cookies. Validated like an upload."""
    try:
        entries = list(_read_tar(data, max_bytes))
    except (InvalidRequest, PayloadTooLarge) as exc:
        raise ArchiveError(exc.message) from exc
    cookies: list[dict[str, Any]] = []
    for name, content in entries:
        if name == COOKIES_NAME and content is not None:
            cookies = _cookies(content)
            continue
        target = root.joinpath(*PurePosixPath(name).parts)
        if content is None:
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
    return cookies


def normalise(data: bytes, max_bytes: int) -> tuple[bytes, int]:
    """An uploaded zip/tar/tar.gz → (canonical archive, number of files). 400 / 413 on bad input."""
    if data[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        entries = list(_read_zip(data, max_bytes))
    elif data[:2] == b"\x1f\x8b" or data[257:262] == b"ustar":
        entries = list(_read_tar(data, max_bytes))
    else:
        raise InvalidRequest("The decrypted upload is not a zip, tar or tar.gz archive")
    entries = _strip_wrapper(entries)
    cookies: list[dict[str, Any]] = []
    kept: list[Entry] = []
    for name, content in entries:
        if name == COOKIES_NAME and content is not None:
            try:
                cookies = _cookies(content)
            except ArchiveError as exc:
                raise InvalidRequest(f"{COOKIES_NAME}: {exc}") from exc
        elif not skipped(PurePosixPath(name).parts):
            kept.append((name, content))
    files = sum(1 for _, content in kept if content is not None)
    if files == 0:
        raise InvalidRequest("The uploaded archive holds no profile files")
    return _write(iter(kept), cookies), files


def _walk(root: Path) -> Iterator[Entry]:
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if skipped(rel.parts) or path.is_symlink():
            continue
        if path.is_dir():
            yield rel.as_posix(), None
        elif path.is_file():
            try:
                yield rel.as_posix(), path.read_bytes()
            except FileNotFoundError:  # a browser helper removed it on the way out
                continue


def _write(entries: Iterator[Entry], cookies: list[dict[str, Any]]) -> bytes:
    buffer = io.BytesIO()
    now = int(time.time())
    with (
        gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=GZIP_LEVEL, mtime=0) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for name, content in [*entries, (COOKIES_NAME, json.dumps(cookies).encode())]:
            info = tarfile.TarInfo(name)
            info.mtime = now
            if content is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o700
                tar.addfile(info)
            else:
                info.size, info.mode = len(content), 0o600
                tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def _safe_name(raw: str) -> str | None:
    """The entry's relative POSIX path, or a 400 for anything that could escape the folder."""
    name = raw.replace("\\", "/")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise InvalidRequest(f"Archive entry {raw!r} has an absolute path")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise InvalidRequest(f"Archive entry {raw!r} leaves the profile folder (..)")
    if any("\x00" in p for p in parts):
        raise InvalidRequest(f"Archive entry {raw!r} has an invalid name")
    return "/".join(parts) or None


def _add(total: int, size: int, max_bytes: int) -> int:
    total += size
    if total > max_bytes:
        raise PayloadTooLarge(f"The profile is larger than the {max_bytes} byte limit once unpacked")
    return total


def _read_zip(data: bytes, max_bytes: int) -> Iterator[Entry]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise InvalidRequest(f"The uploaded zip is corrupt: {exc}") from exc
    total = 0
    for info in infos:
        name = _safe_name(info.filename)
        file_type = stat.S_IFMT(info.external_attr >> 16)  # 0 when the zip tool set none
        if file_type not in (0, stat.S_IFREG, stat.S_IFDIR):
            raise InvalidRequest(f"Archive entry {info.filename!r} is a link or a device")
        if name is None:
            continue
        if info.is_dir():
            yield name, None
            continue
        total = _add(total, info.file_size, max_bytes)
        try:
            with archive.open(info) as handle:
                content = handle.read(info.file_size + 1)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
            raise InvalidRequest(f"The uploaded zip is corrupt: {exc}") from exc
        if len(content) != info.file_size:
            raise InvalidRequest(f"Archive entry {info.filename!r} does not match its declared size")
        yield name, content


def _read_tar(data: bytes, max_bytes: int) -> Iterator[Entry]:
    total = 0
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tar:
            for member in tar:
                name = _safe_name(member.name)
                if not (member.isreg() or member.isdir()):
                    raise InvalidRequest(f"Archive entry {member.name!r} is a link or a device")
                if name is None:
                    continue
                if member.isdir():
                    yield name, None
                    continue
                total = _add(total, member.size, max_bytes)
                handle = tar.extractfile(member)
                content = handle.read() if handle is not None else b""
                if len(content) != member.size:
                    raise InvalidRequest(f"Archive entry {member.name!r} is truncated")
                yield name, content
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise InvalidRequest(f"The uploaded tar is corrupt: {exc}") from exc


def _strip_wrapper(entries: list[Entry]) -> list[Entry]:
    """``myprofile/Default/...`` → ``Default/...`` when the whole archive sits in one folder."""
    tops = {name.split("/")[0] for name, _ in entries}
    if len(tops) != 1 or any(name in PROFILE_MARKERS for name in tops):
        return entries
    (top,) = tops
    stripped = [(name[len(top) + 1 :], content) for name, content in entries if name != top]
    if not any(name.split("/")[0] in PROFILE_MARKERS for name, _ in stripped):
        return entries
    return stripped


def _cookies(content: bytes) -> list[dict[str, Any]]:
    try:
        cookies = json.loads(content)
    except ValueError as exc:
        raise ArchiveError("the cookie list is not JSON") from exc
    if not isinstance(cookies, list) or not all(isinstance(c, dict) for c in cookies):
        raise ArchiveError("the cookie list must be a JSON array of objects")
    return cookies
