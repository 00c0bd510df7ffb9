"""Reading an uploaded Chrome extension: a zip of the unpacked extension folder.

Accepted (docs/sessions.md "Extensions"): a real zip whose members all have safe relative paths
(no absolute or drive paths, no ``..``, no backslashes, no links or devices, no encrypted or
duplicate members), at most ``max_files`` members and ``max_bytes`` once unpacked (declared sizes
are not trusted: every member is read and counted), with ``manifest.json`` at the root or inside
one top folder holding everything else (a ``__MACOSX/`` folder of resource forks is ignored). The
manifest is a JSON object with ``manifest_version`` 3 (Chromium 156 refuses version 2 with
"unsupported manifest version"), a non-empty ``name`` and a Chrome ``version`` (1 to 4
dot-separated integers, each 0 to 65535). Anything else is a 400 (:class:`InvalidRequest`), sizes
beyond the limits a 413.

Nothing from an upload is ever extracted as given: :func:`extract` writes the validated members
one by one below the destination, with the top folder stripped.
"""

from __future__ import annotations

import io
import json
import re
import stat
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from browserfleet.core.errors import InvalidRequest, PayloadTooLarge

MANIFEST = "manifest.json"
SUPPORTED_MANIFEST_VERSIONS = (3,)
IGNORED_TOP = "__MACOSX"
_VERSION = re.compile(r"^(0|[1-9][0-9]{0,4})(\.(0|[1-9][0-9]{0,4})){0,3}$")
_READ_CHUNK = 64 * 1024


@dataclass(frozen=True)
class ArchiveLimits:
    max_bytes: int  # sum of member sizes once unpacked
    max_files: int  # members (files and folders)


@dataclass(frozen=True)
class ExtensionManifest:
    """What the upload's manifest says (kept with the stored extension)."""

    name: str
    version: str
    manifest_version: int
    files: int
    unpacked_bytes: int


def inspect(data: bytes, limits: ArchiveLimits) -> ExtensionManifest:
    """Validate an upload completely (every member read); its manifest. 400/413 otherwise."""
    members, prefix = _layout(data, limits)
    files = 0
    total = 0
    manifest: bytes | None = None
    for name, content in _contents(data, members, prefix, limits):
        if content is None:
            continue
        files += 1
        total += len(content)
        if name == MANIFEST:
            manifest = content
    assert manifest is not None  # _layout found it
    parsed = _manifest(manifest)
    return ExtensionManifest(
        name=parsed["name"].strip(),
        version=parsed["version"],
        manifest_version=parsed["manifest_version"],
        files=files,
        unpacked_bytes=total,
    )


def extract(data: bytes, dest: Path, limits: ArchiveLimits) -> Path:
    """Write the extension's files below ``dest`` (created; the top folder stripped); ``dest``."""
    members, prefix = _layout(data, limits)
    dest.mkdir(parents=True, exist_ok=True)
    for name, content in _contents(data, members, prefix, limits):
        target = dest.joinpath(*PurePosixPath(name).parts)
        if content is None:
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
    return dest


# --- layout: names, types, counts, where the manifest is -----------------------------------------


def _open(data: bytes) -> zipfile.ZipFile:
    if data[:4] not in (b"PK\x03\x04", b"PK\x05\x06"):
        raise InvalidRequest("The file is not a zip archive (upload a .zip of the unpacked extension)")
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise InvalidRequest(f"The zip archive is corrupt: {exc}") from exc


def _layout(data: bytes, limits: ArchiveLimits) -> tuple[list[tuple[str, zipfile.ZipInfo]], str]:
    """The members to unpack as ``(safe name, info)`` and the top-folder prefix to strip."""
    archive = _open(data)
    infos = archive.infolist()
    if len(infos) > limits.max_files:
        raise PayloadTooLarge(f"The zip has {len(infos)} members; at most {limits.max_files} are accepted")
    members: list[tuple[str, zipfile.ZipInfo]] = []
    seen: set[str] = set()
    for info in infos:
        name = _safe_name(info)
        if name is None or name.split("/")[0] == IGNORED_TOP:
            continue
        if name in seen:
            raise InvalidRequest(f"The zip holds {info.filename!r} twice")
        seen.add(name)
        members.append((name, info))
    return members, _prefix(seen)


def _safe_name(info: zipfile.ZipInfo) -> str | None:
    """The member's relative POSIX path (None for the root itself); 400 if it could escape."""
    raw = info.filename
    if "\\" in raw or "\x00" in raw:
        raise InvalidRequest(f"Zip member {raw!r} has an invalid name (backslash or NUL)")
    if raw.startswith("/") or re.match(r"^[A-Za-z]:", raw):
        raise InvalidRequest(f"Zip member {raw!r} has an absolute path")
    parts = [p for p in raw.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise InvalidRequest(f"Zip member {raw!r} leaves the extension folder (..)")
    file_type = stat.S_IFMT(info.external_attr >> 16)  # 0 when the zip tool set none
    if file_type not in (0, stat.S_IFREG, stat.S_IFDIR):
        raise InvalidRequest(f"Zip member {raw!r} is a link or a device")
    if info.flag_bits & 0x1:
        raise InvalidRequest(f"Zip member {raw!r} is encrypted")
    return "/".join(parts) or None


def _prefix(names: set[str]) -> str:
    """``""`` if ``manifest.json`` is at the root, ``"top/"`` if everything sits in one folder."""
    if MANIFEST in names:
        return ""
    tops = {name.split("/")[0] for name in names}
    if len(tops) == 1:
        (top,) = tops
        if f"{top}/{MANIFEST}" in names:
            return f"{top}/"
    raise InvalidRequest(
        f"No {MANIFEST} at the root of the zip (or inside a single top folder holding everything)"
    )


# --- contents: read and counted, never trusted ---------------------------------------------------


def _contents(
    data: bytes, members: list[tuple[str, zipfile.ZipInfo]], prefix: str, limits: ArchiveLimits
) -> Iterator[tuple[str, bytes | None]]:
    """``(name below the prefix, content or None for a folder)``, sizes counted as read."""
    archive = _open(data)
    total = 0
    for name, info in members:
        if not name.startswith(prefix):
            continue  # only the top folder itself (everything else is inside it: _prefix)
        relative = name[len(prefix) :]
        if info.is_dir():
            yield relative, None
            continue
        content = _read(archive, info, limits.max_bytes - total, limits.max_bytes)
        total += len(content)
        yield relative, content


def _read(archive: zipfile.ZipFile, info: zipfile.ZipInfo, budget: int, limit: int) -> bytes:
    """The member's bytes, at most ``budget`` of them (what is left of ``limit``)."""
    too_large = f"The extension is larger than the {limit} byte limit once unpacked"
    if info.file_size > budget:
        raise PayloadTooLarge(too_large)
    chunks: list[bytes] = []
    size = 0
    try:
        with archive.open(info) as handle:
            while chunk := handle.read(_READ_CHUNK):
                size += len(chunk)
                if size > budget:
                    raise PayloadTooLarge(too_large)
                chunks.append(chunk)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, zlib.error, NotImplementedError) as exc:
        raise InvalidRequest(f"Zip member {info.filename!r} is corrupt: {exc}") from exc
    if size != info.file_size:
        raise InvalidRequest(f"Zip member {info.filename!r} does not match its declared size")
    return b"".join(chunks)


# --- the manifest --------------------------------------------------------------------------------


def _manifest(raw: bytes) -> dict[str, Any]:
    try:
        manifest = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidRequest(f"{MANIFEST} is not valid JSON: {exc}") from exc
    except RecursionError as exc:  # the parser recurses per level: thousands of [ or { exhaust it
        raise InvalidRequest(f"{MANIFEST} is not valid JSON: it is nested too deeply") from exc
    if not isinstance(manifest, dict):
        raise InvalidRequest(f"{MANIFEST} must be a JSON object")
    version = manifest.get("manifest_version")
    if type(version) is not int or version not in SUPPORTED_MANIFEST_VERSIONS:
        raise InvalidRequest(
            f"{MANIFEST}: manifest_version must be 3 (got {version!r}); "
            "Chromium no longer loads Manifest V2 extensions"
        )
    name = manifest.get("name")
    if not isinstance(name, str) or not name.strip():
        raise InvalidRequest(f"{MANIFEST}: name must be a non-empty string")
    if not isinstance(manifest.get("version"), str) or not _valid_version(manifest["version"]):
        raise InvalidRequest(
            f'{MANIFEST}: version must be 1 to 4 dot-separated integers (e.g. "1.0.2"), '
            f"got {manifest.get('version')!r}"
        )
    return manifest


def _valid_version(version: str) -> bool:
    return bool(_VERSION.match(version)) and all(int(part) <= 65535 for part in version.split("."))
